package dev.lanyard.spiffe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The SPIFFE ID spec's rules, as every request's caller ID is parsed by them. */
class SpiffeIdTest {

    @ParameterizedTest
    @ValueSource(strings = {"spiffe://acme.internal/ns/payments/sa/api", "spiffe://a/b", "spiffe://td-1_x.y/A.b-C_9",
            "spiffe://td/.../..a/a..", "spiffe://td/a/.b/c."})
    void parsesWellFormedIds(String text) {
        SpiffeId id = SpiffeId.parse(text);
        assertThat(id.toString()).isEqualTo(text);
        assertThat(SpiffeId.parse(id.toString())).isEqualTo(id);
    }

    @Test
    void splitsTrustDomainAndPath() {
        SpiffeId id = SpiffeId.parse("spiffe://acme.internal/ns/payments");
        assertThat(id.trustDomain()).isEqualTo("acme.internal");
        assertThat(id.path()).isEqualTo("/ns/payments");
        assertThat(id.isMemberOf("acme.internal")).isTrue();
    }

    @ParameterizedTest(name = "[{index}] {1}")
    @CsvSource(delimiter = '|', value = {
        "''|SPIFFE ID is empty",
        "https://td/a|must start with spiffe://",
        "spiffe://td|has no path",
        "spiffe://td/|has no path",
        "spiffe:///a|trust domain is empty",
        "spiffe://TD/a|trust domain may hold only",
        "spiffe://td:8443/a|trust domain may hold only",
        "spiffe://user@td/a|trust domain may hold only",
        "spiffe://td/a/|must not end with '/'",
        "spiffe://td//a|empty segment",
        "spiffe://td/a//b|empty segment",
        "spiffe://td/./a|'.' or '..' segments",
        "spiffe://td/a/..|'.' or '..' segments",
        "spiffe://td/a/../b|'.' or '..' segments",
        "spiffe://td/a?b=c|only letters, digits",
        "spiffe://td/a#b|only letters, digits",
        "spiffe://td/a b|only letters, digits",
        "spiffe://td/caf\u00e9|only letters, digits",
        "spiffe://td/a%2Fb|only letters, digits",
    })
    void refusesWhatTheSpecForbids(String text, String message) {
        assertThatThrownBy(() -> SpiffeId.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void refusesAnIdLongerThan2048Bytes() {
        String prefix = "spiffe://td/";
        String longest = prefix + "a".repeat(2048 - prefix.length());
        assertThat(SpiffeId.parse(longest).toString()).hasSize(2048);
        assertThatThrownBy(() -> SpiffeId.parse(longest + "a")).hasMessageContaining("longer than 2048 bytes");
    }

    @Test
    void ofAddsTheLeadingSlash() {
        assertThat(SpiffeId.of("td", "a/b")).isEqualTo(SpiffeId.parse("spiffe://td/a/b"));
        assertThatThrownBy(() -> SpiffeId.of("td", "a//b")).hasMessageContaining("empty segment");
    }
}
