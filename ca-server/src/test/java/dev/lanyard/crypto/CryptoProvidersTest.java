package dev.lanyard.crypto;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CryptoProvidersTest {

    @Test
    void picksAccpWhereItLoadsAndNeverSunEc() throws Exception {
        CryptoProviders crypto = CryptoProviders.select();
        if (System.getProperty("os.arch").matches("amd64|x86_64|aarch64")) {
            assertThat(crypto.description()).startsWith("Amazon Corretto Crypto Provider");
        }
        assertThat(crypto.signature("SHA256withECDSA").getProvider().getName()).isNotEqualTo("SunEC");
        assertThat(crypto.keyPairGenerator("EC").getProvider().getName()).isNotEqualTo("SunEC");
        assertThat(crypto.signature("Ed25519").getProvider().getName()).isNotEqualTo("SunEC");
    }

    @Test
    void bouncyCastleOnlyIsBouncyCastle() throws Exception {
        CryptoProviders crypto = CryptoProviders.bouncyCastleOnly();
        assertThat(crypto.description()).startsWith("Bouncy Castle");
        assertThat(crypto.signature("SHA256withECDSA").getProvider().getName()).isEqualTo("BC");
    }
}
