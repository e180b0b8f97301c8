package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.TestPki;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Lanyard is its own SPIFFE ID on a chain to the roots; a DNS name, even the one dialled, proves nothing. */
class LanyardServerTrustTest {

    final TestPki pki = new TestPki(Clock.systemUTC(), "a.test");
    final TestPki stranger = new TestPki(Clock.systemUTC(), "a.test");

    LanyardServerTrust trust(Optional<String> trustDomain) {
        return new LanyardServerTrust(ReloadingTrustManager.pkix(List.of(pki.root())), trustDomain);
    }

    @Test
    void acceptsTheLanyardServerOfTheTrustDomain() {
        X509Certificate[] server = pki.leaf("spiffe://a.test/lanyard/server", "lanyard.a.test").chain();

        assertThatCode(() -> trust(Optional.of("a.test")).checkServerTrusted(server, "ECDHE_ECDSA"))
                .doesNotThrowAnyException();
        assertThatCode(() -> trust(Optional.empty()).checkServerTrusted(server, "ECDHE_ECDSA"))
                .doesNotThrowAnyException();
    }

    @Test
    void refusesAWorkloadWithTheServersHostNameAndSaysWhy() {
        X509Certificate[] workload = pki.leaf("spiffe://a.test/ns/shop/sa/api", "localhost", "lanyard.a.test").chain();

        assertThatThrownBy(() -> trust(Optional.of("a.test")).checkServerTrusted(workload, "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class).hasMessage("the server presented spiffe://a.test/ns/shop/sa/api,"
                        + " not spiffe://a.test/lanyard/server: it is not the Lanyard server");
        assertThatThrownBy(() -> trust(Optional.empty()).checkServerTrusted(workload, "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class).hasMessageContaining("it is not the Lanyard server");
    }

    @Test
    void refusesLookalikeIdsAnotherTrustDomainAndAnotherRoot() {
        for (String id : List.of("spiffe://a.test/lanyard/server/x", "spiffe://a.test/x/lanyard/server",
                "spiffe://a.test/lanyard/server?x", "spiffe://b.test/lanyard/server")) {
            X509Certificate[] chain = pki.leaf(id).chain();
            assertThatThrownBy(() -> trust(Optional.of("a.test")).checkServerTrusted(chain, "ECDHE_ECDSA")).as(id)
                    .isInstanceOf(CertificateException.class).hasMessageContaining("it is not the Lanyard server");
        }
        for (String id : List.of("spiffe://a.test/lanyard/server/x", "spiffe://a.test/x/lanyard/server",
                "spiffe://a.test/lanyard/server?x")) {
            X509Certificate[] chain = pki.leaf(id).chain();
            assertThatThrownBy(() -> trust(Optional.empty()).checkServerTrusted(chain, "ECDHE_ECDSA")).as(id)
                    .isInstanceOf(CertificateException.class).hasMessageContaining("it is not the Lanyard server");
        }
        X509Certificate[] forged = stranger.leaf("spiffe://a.test/lanyard/server").chain();
        assertThatThrownBy(() -> trust(Optional.of("a.test")).checkServerTrusted(forged, "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class).hasMessageNotContaining("Lanyard server");
        assertThatThrownBy(() -> trust(Optional.of("a.test")).checkServerTrusted(new X509Certificate[0], "ECDHE_ECDSA"))
                .hasMessage("the server presented no certificate");
    }

    @Test
    void neverAuthenticatesClients() {
        X509Certificate[] server = pki.leaf("spiffe://a.test/lanyard/server").chain();

        assertThatThrownBy(() -> trust(Optional.of("a.test")).checkClientTrusted(server, "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
    }
}
