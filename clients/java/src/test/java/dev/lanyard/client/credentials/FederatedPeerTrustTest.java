package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.TestPki;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A peer from a federated trust domain is checked against that domain's roots and accepted only
 * where the caller allows its trust domain; a domain Lanyard does not federate with never is.
 */
class FederatedPeerTrustTest {

    final TestPki a = new TestPki(Clock.systemUTC(), "a.test");
    final TestPki b = new TestPki(Clock.systemUTC(), "b.test");
    final TestPki c = new TestPki(Clock.systemUTC(), "c.test");
    final Map<String, List<X509Certificate>> federated = Map.of("b.test", List.of(b.root()));

    FederatedPeerTrust trust(String... allowed) {
        return new FederatedPeerTrust("a.test", () -> List.of(a.root()), () -> federated, Set.of(allowed));
    }

    @Test
    void ownAndAllowedFederatedPeersPassOthersAreRefusedWithTheReason() {
        X509Certificate[] fromB = b.leaf("spiffe://b.test/ns/shop/sa/api").chain();
        assertThatCode(() -> trust("a.test").checkClientTrusted(a.leaf("spiffe://a.test/ns/x/sa/y").chain(), "ECDHE_ECDSA"))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> trust("a.test").checkServerTrusted(fromB, "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class).hasMessageContaining("trust domain b.test, which this caller does not allow");
        assertThatCode(() -> trust("a.test", "b.test").checkServerTrusted(fromB, "ECDHE_ECDSA")).doesNotThrowAnyException();
        assertThatCode(() -> trust("a.test", "b.test").checkClientTrusted(fromB, "ECDHE_ECDSA")).doesNotThrowAnyException();
        assertThatThrownBy(() -> trust("a.test", "b.test", "c.test")
                .checkServerTrusted(c.leaf("spiffe://c.test/x").chain(), "ECDHE_ECDSA"))
                .hasMessageContaining("c.test, which Lanyard does not federate with");
        // a b.test ID from c's CA, and an a.test ID from b's CA: each must chain to its own domain's roots
        assertThatThrownBy(() -> trust("b.test").checkServerTrusted(c.leaf("spiffe://b.test/forged").chain(), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
        assertThatThrownBy(() -> trust("a.test", "b.test")
                .checkServerTrusted(b.leaf("spiffe://a.test/forged").chain(), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
    }
}
