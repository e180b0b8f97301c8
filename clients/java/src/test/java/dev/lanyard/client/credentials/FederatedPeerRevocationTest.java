package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.client.revocation.RevocationWatcher;
import dev.lanyard.client.testing.FakeRevocationStream;
import dev.lanyard.client.testing.Handshake;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.v1.Revocation;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationTarget;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A federated trust manager refusing revoked peers at the handshake: a revocation a federated trust domain
 * made (Lanyard passes it on tagged with that trust domain) refuses only that trust domain's peers; our own
 * refuses any. The revocations come over a real stream, the handshakes over real sockets.
 */
class FederatedPeerRevocationTest {

    final TestPki a = new TestPki(Clock.systemUTC(), "a.test");
    final TestPki b = new TestPki(Clock.systemUTC(), "b.test");
    final TestPki c = new TestPki(Clock.systemUTC(), "c.test");
    final TestPki.Held us = a.leaf("spiffe://a.test/shop");
    final TestPki.Held revokedByB = b.leaf("spiffe://b.test/ledger");
    final TestPki.Held sameIdentityNotRevoked = b.leaf("spiffe://b.test/ledger");
    final TestPki.Held identityRevokedByB = b.leaf("spiffe://b.test/payments");
    final TestPki.Held listedByBButOfC = c.leaf("spiffe://c.test/ledger");
    final TestPki.Held revokedByUs = c.leaf("spiffe://c.test/shop");

    ScheduledExecutorService scheduler;
    FakeRevocationStream stream;
    RevocationWatcher watcher;
    FederatedPeerTrust trust;

    @BeforeEach
    void follow() throws Exception {
        stream = new FakeRevocationStream(List.of(
                revoked(1, serialOf(revokedByB), "b.test"),
                revoked(2, serialOf(listedByBButOfC), "b.test"),
                revoked(3, serialOf(revokedByUs), ""),
                revoked(4, RevocationTarget.newBuilder().setSpiffeId("spiffe://b.test/payments").build(), "b.test")));
        scheduler = Executors.newSingleThreadScheduledExecutor();
        watcher = RevocationWatcher.builder().channel(stream.channel()).scheduler(scheduler).start();
        assertThat(watcher.awaitLoaded(Duration.ofSeconds(30))).isTrue();
        PeerRevocations revocations = new PeerRevocations();
        revocations.follow(watcher);
        trust = new FederatedPeerTrust("a.test", () -> List.of(a.root()),
                () -> Map.of("b.test", List.of(b.root()), "c.test", List.of(c.root())),
                Set.of("a.test", "b.test", "c.test"), revocations);
    }

    @AfterEach
    void stop() throws Exception {
        watcher.close();
        stream.close();
        scheduler.shutdownNow();
    }

    @Test
    void aClientRefusesAServerOnlyForRevocationsThatApplyToItsTrustDomain() throws Exception {
        assertThat(asServer(revokedByB).clientRefusal()).hasStackTraceContaining("the peer spiffe://b.test/ledger"
                + " is refused: certificate " + serial(revokedByB) + " is revoked");
        assertThat(asServer(sameIdentityNotRevoked).succeeded()).isTrue();
        assertThat(asServer(identityRevokedByB).clientRefusal())
                .hasStackTraceContaining("identity spiffe://b.test/payments is revoked");
        // b.test listed a c.test certificate's serial: b.test cannot revoke what c.test's peers hold.
        assertThat(asServer(listedByBButOfC).succeeded()).isTrue();
        // Our own Lanyard's revocations apply to every trust domain's peers.
        assertThat(asServer(revokedByUs).clientRefusal())
                .hasStackTraceContaining("certificate " + serial(revokedByUs) + " is revoked");
    }

    @Test
    void aServerRefusesAClientOnlyForRevocationsThatApplyToItsTrustDomain() throws Exception {
        assertThat(asClient(revokedByB).serverRefusal()).hasStackTraceContaining("the peer spiffe://b.test/ledger"
                + " is refused: certificate " + serial(revokedByB) + " is revoked");
        assertThat(asClient(sameIdentityNotRevoked).succeeded()).isTrue();
        assertThat(asClient(listedByBButOfC).succeeded()).isTrue();
        assertThat(asClient(revokedByUs).serverRefusal())
                .hasStackTraceContaining("certificate " + serial(revokedByUs) + " is revoked");
    }

    /** {@code peer} serves; we call it trusting federated peers. */
    private Handshake asServer(TestPki.Held peer) throws Exception {
        return Handshake.serverOnly(context(peer.keyManager(), a.trustManager()), context(null, trust));
    }

    /**
     * We serve trusting federated peers; {@code peer} calls with its certificate, presented the way a
     * workload's key manager does, whoever the server names as issuers.
     */
    private Handshake asClient(TestPki.Held peer) throws Exception {
        Svid svid = new Svid(IssuedSvidCheck.spiffeId(peer.leaf()), peer.privateKey(), peer.leaf(),
                List.of(peer.intermediate()), List.of());
        return Handshake.mutual(context(us.keyManager(), trust),
                context(new ReloadingKeyManager(svid), trustingAnyServer()));
    }

    private TrustManager trustingAnyServer() {
        return new FederatedPeerTrust("a.test", () -> List.of(a.root()), Map::of, Set.of("a.test"));
    }

    private static SSLContext context(KeyManager keys, TrustManager trust) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys == null ? null : new KeyManager[] {keys}, new TrustManager[] {trust}, null);
        return context;
    }

    private static String serial(TestPki.Held held) {
        return held.leaf().getSerialNumber().toString(16);
    }

    private static RevocationTarget serialOf(TestPki.Held held) {
        return RevocationTarget.newBuilder().setSerial(serial(held).toUpperCase()).build();
    }

    private static RevocationEvent revoked(long sequence, RevocationTarget target, String trustDomain) {
        return RevocationEvent.newBuilder().setSequence(sequence).setRevoked(Revocation.newBuilder()
                .setSequence(sequence).setTarget(target).setTrustDomain(trustDomain)).build();
    }
}
