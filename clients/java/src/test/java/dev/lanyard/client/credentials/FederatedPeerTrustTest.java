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
 * names no issuers, so a stock key manager on the client presents its SVID and the trust manager decides.
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
    void namesNoAcceptedIssuersWhateverTheBundles() {
        AtomicReference<Map<String, List<X509Certificate>>> now = new AtomicReference<>(
                Map.of("b.test", List.of(b.root()), "c.test", List.of(c.root())));
        FederatedPeerTrust trust = new FederatedPeerTrust("a.test", () -> List.of(a.root()), now::get,
                Set.of("a.test", "b.test"));
        assertThat(trust.getAcceptedIssuers()).isEmpty();
        now.set(Map.of());
        assertThat(trust.getAcceptedIssuers()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.2", "TLSv1.3"})
    void aServerTrustingFederatedPeersGetsTheCertificateOfAStockKeyManagerFromAFederatedTrustDomain(String protocol)
            throws Exception {
        AtomicReference<Map<String, List<X509Certificate>>> now = new AtomicReference<>(Map.of());
        SSLContext server = context("TLS", a.leaf("spiffe://a.test/ledger").keyManager(),
                new FederatedPeerTrust("a.test", () -> List.of(a.root()), now::get, Set.of("a.test", "b.test")));
        TestPki.Held fromB = b.leaf("spiffe://b.test/ns/shop/sa/api");

        // Before Lanyard federates with b.test, its client presents its SVID and is refused for it.
        Handshake beforeFederation = Handshake.mutual(server, stockClient(protocol, fromB));
        assertThat(beforeFederation.serverRefusal()).hasStackTraceContaining("b.test, which Lanyard does not federate with");

        // b.test's bundle arrives after the server's context was made: its client is accepted.
        now.set(Map.of("b.test", List.of(b.root()), "c.test", List.of(c.root())));
        Handshake afterFederation = Handshake.mutual(server, stockClient(protocol, fromB));
        assertThat(afterFederation.succeeded()).isTrue();
        assertThat(IssuedSvidCheck.spiffeId(afterFederation.clientChainAtServer().get(0)))
                .isEqualTo("spiffe://b.test/ns/shop/sa/api");

        // c.test is federated but not allowed: its client presents its SVID too, and the server refuses it.
        Handshake fromC = Handshake.mutual(server, stockClient(protocol, c.leaf("spiffe://c.test/x")));
        assertThat(fromC.serverRefusal()).hasStackTraceContaining("trust domain c.test, which this caller does not allow");
        assertThat(fromC.clientChainAtServer()).isEmpty();
    }

    /** A client whose key manager is the JDK's own: it presents a certificate for any issuer when the server names none. */
    private SSLContext stockClient(String protocol, TestPki.Held held) throws Exception {
        return context(protocol, held.keyManager(), a.trustManager());
    }

    private static SSLContext context(String protocol, KeyManager keys, TrustManager trust) throws Exception {
        SSLContext context = SSLContext.getInstance(protocol);
        context.init(new KeyManager[] {keys}, new TrustManager[] {trust}, null);
        return context;
    }
}
