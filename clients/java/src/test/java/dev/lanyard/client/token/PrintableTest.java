package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PrintableTest {

    @Test
    void quotesAValue() {
        assertThat(Printable.of("payments")).isEqualTo("\"payments\"");
        assertThat(Printable.of(null)).isEqualTo("null");
    }

    @Test
    void replacesControlCharactersSoNoLogLineCanBeForged() {
        assertThat(Printable.of("a\nINFO forged\r\u0000")).isEqualTo("\"a?INFO forged??\"");
    }

    @Test
    void cutsLongValues() {
        assertThat(Printable.of("x".repeat(500))).isEqualTo("\"" + "x".repeat(Printable.MAX_LENGTH) + "...\"");
    }
}
