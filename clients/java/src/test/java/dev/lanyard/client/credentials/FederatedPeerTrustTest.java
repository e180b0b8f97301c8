package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.Handshake;
import dev.lanyard.client.testing.TestPki;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A peer from a federated trust domain is checked against that domain's roots and accepted only
 * where the caller allows its trust domain; a domain Lanyard does not federate with never is. A server
 * names the roots of every trust domain it accepts, so a stock key manager on the client presents its SVID.
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

    @Test
    void acceptedIssuersAreOurRootsAndThoseOfEachAllowedFederatedTrustDomainAsTheyAreNow() {
        TestPki b2 = new TestPki(Clock.systemUTC(), "b.test");
        AtomicReference<List<X509Certificate>> ownRoots = new AtomicReference<>(List.of(a.root()));
        AtomicReference<Map<String, List<X509Certificate>>> now = new AtomicReference<>(
                Map.of("b.test", List.of(b.root(), b.root(), a.root()), "c.test", List.of(c.root())));
        FederatedPeerTrust trust = new FederatedPeerTrust("a.test", ownRoots::get, now::get, Set.of("a.test", "b.test"));

        // c.test is federated but not allowed; a root listed twice, or by two trust domains, is named once
        assertThat(trust.getAcceptedIssuers()).containsExactlyInAnyOrder(a.root(), b.root());

        ownRoots.set(List.of(a.root(), c.root()));
        now.set(Map.of("b.test", List.of(b2.root())));
        assertThat(trust.getAcceptedIssuers()).containsExactlyInAnyOrder(a.root(), c.root(), b2.root());

        now.set(Map.of());
        assertThat(trust.getAcceptedIssuers()).containsExactlyInAnyOrder(a.root(), c.root());
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.2", "TLSv1.3"})
    void aServerTrustingFederatedPeersGetsTheCertificateOfAStockKeyManagerFromAFederatedTrustDomain(String protocol)
            throws Exception {
        SSLContext server = context("TLS", a.leaf("spiffe://a.test/ledger").keyManager(),
                new FederatedPeerTrust("a.test", () -> List.of(a.root()),
                        () -> Map.of("b.test", List.of(b.root()), "c.test", List.of(c.root())), Set.of("a.test", "b.test")));

        Handshake fromB = Handshake.mutual(server, stockClient(protocol, b.leaf("spiffe://b.test/ns/shop/sa/api")));
        assertThat(fromB.succeeded()).isTrue();
        assertThat(IssuedSvidCheck.spiffeId(fromB.clientChainAtServer().get(0))).isEqualTo("spiffe://b.test/ns/shop/sa/api");

        // c.test is federated but not allowed: its roots are not named, so its client presents nothing
        Handshake fromC = Handshake.mutual(server, stockClient(protocol, c.leaf("spiffe://c.test/x")));
        assertThat(fromC.serverRefusal()).hasMessageContaining("Empty client certificate chain");
        assertThat(fromC.clientChainAtServer()).isEmpty();
    }

    /** A client whose key manager is the JDK's own, presenting a certificate only for an issuer the server names. */
    private SSLContext stockClient(String protocol, TestPki.Held held) throws Exception {
        return context(protocol, held.keyManager(), a.trustManager());
    }

    private static SSLContext context(String protocol, KeyManager keys, TrustManager trust) throws Exception {
        SSLContext context = SSLContext.getInstance(protocol);
        context.init(new KeyManager[] {keys}, new TrustManager[] {trust}, null);
        return context;
    }
}
