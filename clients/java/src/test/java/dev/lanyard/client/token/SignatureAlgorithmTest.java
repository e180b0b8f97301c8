package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SignatureAlgorithmTest {

    @Test
    void parsesEverySupportedName() {
        for (SignatureAlgorithm algorithm : SignatureAlgorithm.values()) {
            assertThat(SignatureAlgorithm.fromJoseName(algorithm.joseName())).isEqualTo(algorithm);
        }
        assertThat(SignatureAlgorithm.fromJoseName(" EdDSA ")).isEqualTo(SignatureAlgorithm.EdDSA);
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "None", "NONE"})
    void neverAllowsNone(String name) {
        assertThatThrownBy(() -> SignatureAlgorithm.fromJoseName(name))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alg none can never be allowed: it means an unsigned token");
    }

    @ParameterizedTest
    @ValueSource(strings = {"HS256", "HS384", "HS512", "hs256"})
    void neverAllowsHmac(String name) {
        assertThatThrownBy(() -> SignatureAlgorithm.fromJoseName(name))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alg " + name + " can never be allowed: HMAC would use a public key as a shared secret");
    }

    @Test
    void refusesUnknownAndEmptyNames() {
        assertThatThrownBy(() -> SignatureAlgorithm.fromJoseName("ES512"))
                .hasMessage("unsupported algorithm \"ES512\"; supported: ES256, ES384, EdDSA, RS256, PS256");
        assertThatThrownBy(() -> SignatureAlgorithm.fromJoseName("es256"))
                .hasMessage("unsupported algorithm \"es256\"; supported: ES256, ES384, EdDSA, RS256, PS256");
        assertThatThrownBy(() -> SignatureAlgorithm.fromJoseName(" "))
                .hasMessage("an algorithm name is required");
        assertThatThrownBy(() -> SignatureAlgorithm.fromJoseName(null))
                .hasMessage("an algorithm name is required");
    }
}
