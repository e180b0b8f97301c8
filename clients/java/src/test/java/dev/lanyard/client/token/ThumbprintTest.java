package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.util.X509CertUtils;
import dev.lanyard.client.testing.TestPki;
import java.security.cert.X509Certificate;
import java.time.Clock;
import org.junit.jupiter.api.Test;

class ThumbprintTest {

    private final TestPki pki = new TestPki(Clock.systemUTC(), "lanyard.local");

    @Test
    void isTheBase64UrlSha256OfTheDerAsAnIndependentImplementationComputesIt() {
        X509Certificate certificate = pki.leaf("spiffe://lanyard.local/a").leaf();

        String thumbprint = Thumbprint.x5tS256(certificate);

        assertThat(thumbprint).isEqualTo(X509CertUtils.computeSHA256Thumbprint(certificate).toString());
        assertThat(thumbprint).hasSize(43).matches("[A-Za-z0-9_-]+");
    }

    @Test
    void differsBetweenCertificatesOfTheSameIdentity() {
        assertThat(Thumbprint.x5tS256(pki.leaf("spiffe://lanyard.local/a").leaf()))
                .isNotEqualTo(Thumbprint.x5tS256(pki.leaf("spiffe://lanyard.local/a").leaf()));
    }
}
