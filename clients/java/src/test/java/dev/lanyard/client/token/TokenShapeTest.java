package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class TokenShapeTest {

    private static String b64(String json) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }

    private static String refusal(String json) {
        try {
            TokenShape.checkJson(b64(json), "payload");
            return "accepted";
        } catch (TokenRejectedException e) {
            assertThat(e.reason()).isEqualTo(TokenRejectedException.Reason.MALFORMED);
            return e.getMessage();
        }
    }

    @Test
    void acceptsPlainObjects() {
        assertThatCode(() -> TokenShape.checkJson(b64("{\"a\":[1,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\"}"),
                "payload")).doesNotThrowAnyException();
    }

    @Test
    void refusesAMemberNamedTwiceAtAnyDepth() {
        assertThat(refusal("{\"a\":1,\"a\":2}")).isEqualTo("MALFORMED: the payload names member \"a\" twice");
        assertThat(refusal("{\"c\":{\"x\":1,\"x\":1}}")).isEqualTo("MALFORMED: the payload names member \"x\" twice");
        assertThat(refusal("{\"c\":[{\"x\":1},{\"x\":1}]}")).isEqualTo("accepted");
    }

    @Test
    void refusesWhatParsersWouldReadDifferently() {
        assertThat(refusal("{\"a\":\"\\ud800\"}")).contains("lone surrogate");
        assertThat(refusal("{\"a\":\"\uFFFD\"}")).contains("U+FFFD");
        assertThat(refusal("{\"a\":1} x")).isEqualTo("MALFORMED: the payload is not JSON");
        assertThat(refusal("[1]")).isEqualTo("MALFORMED: the payload is not a JSON object");
        assertThat(refusal("{'a':1}")).isEqualTo("MALFORMED: the payload is not JSON");
        assertThat(refusal("{\"a\":" + "[".repeat(31) + "1" + "]".repeat(31) + "}")).isEqualTo("accepted");
        assertThat(refusal("{\"a\":" + "[".repeat(32) + "]".repeat(32) + "}")).contains("nests deeper than 32");
        assertThat(refusal("{\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}")).contains("nests deeper");
    }

    @Test
    void refusesBadBytes() {
        String bad = Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}'});
        assertThatThrownBy(() -> TokenShape.checkJson(bad, "header")).hasMessage("MALFORMED: the header is not UTF-8");
    }

    @Test
    void partsAreCanonicalUnpaddedBase64url() throws TokenRejectedException {
        assertThat(TokenShape.parts("e30.e30.AAAA")).containsExactly("e30", "e30", "AAAA");
        assertThatThrownBy(() -> TokenShape.parts("e30.e30.AA==")).hasMessageContaining("signature is not canonical");
        assertThatThrownBy(() -> TokenShape.parts("e30.e30.AB")).hasMessageContaining("signature is not canonical");
        assertThatThrownBy(() -> TokenShape.parts("e30.e3+.AA")).hasMessageContaining("payload is not canonical");
        assertThatThrownBy(() -> TokenShape.parts("e30.e30.A")).hasMessageContaining("signature is not canonical");
        assertThatThrownBy(() -> TokenShape.parts("e30.e30")).hasMessageContaining("three base64url parts");
    }
}
