package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.revocation.RevocationWatcher;
import dev.lanyard.client.testing.FakeScheduler;
import dev.lanyard.client.testing.Handshake;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BooleanSupplier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WorkloadCredentials#refuseRevoked}: the peer trust managers refuse a revoked peer at the handshake,
 * and every peer until the revocations are loaded; without it nothing changes. A real Lanyard revokes, a
 * {@link RevocationWatcher} follows it, and the handshakes run over real sockets (JSSE and gRPC).
 */
class RefuseRevokedPeersTest {

    private static final String FRONTEND = "spiffe://lanyard.local/ns/shop/sa/frontend";
    private static final String INVENTORY = "spiffe://lanyard.local/ns/shop/sa/inventory";

    @TempDir
    Path dataDir;

    private RunningServer lanyard;
    private final ScheduledExecutorService watching = Executors.newSingleThreadScheduledExecutor();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private WorkloadCredentials frontend;
    private WorkloadCredentials inventory;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dataDir);
        frontend = bootstrap(FRONTEND);
        inventory = bootstrap(INVENTORY, "localhost");
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        watching.shutdownNow();
        lanyard.close();
    }

    @Test
    void aClientRefusesARevokedServer() throws Exception {
        RevocationWatcher revocations = following(frontend);
        frontend.refuseRevoked(revocations); // after its SSLContext and trust manager were made
        InventoryServer server = serve(inventory);
        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).succeeded()).isTrue();
        server.call(frontend.channelCredentials());

        revoke(RevocationTarget.newBuilder().setSpiffeId(INVENTORY).build());
        await(() -> revocations.isRevokedIdentity(INVENTORY));

        String refusal = "the peer " + INVENTORY + " is refused: identity " + INVENTORY + " is revoked";
        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).clientRefusal())
                .hasStackTraceContaining(refusal);
        assertThat(Handshake.mutual(inventory.sslContext(),
                context(frontend.keyManager(), frontend.federatedTrust(Set.of("lanyard.local")))).clientRefusal())
                .hasStackTraceContaining(refusal);
        assertThatThrownBy(() -> server.call(frontend.channelCredentials(frontend.svid())))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isEqualTo(Status.Code.UNAVAILABLE))
                .hasStackTraceContaining(refusal);
        // Channels to Lanyard are not peers: the refusing workload still renews.
        assertThat(frontend.renewNow().spiffeId()).isEqualTo(FRONTEND);
    }

    @Test
    void aServerRefusesARevokedClient() throws Exception {
        RevocationWatcher revocations = following(inventory);
        inventory.refuseRevoked(revocations);
        InventoryServer server = serve(inventory); // its credentials made after the opt-in
        server.call(frontend.channelCredentials());

        revoke(RevocationTarget.newBuilder().setSpiffeId(FRONTEND).build());
        await(() -> revocations.isRevokedIdentity(FRONTEND));

        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).serverRefusal())
                .hasStackTraceContaining("the peer " + FRONTEND + " is refused: identity " + FRONTEND + " is revoked");
        assertThatThrownBy(() -> server.call(frontend.channelCredentials()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isEqualTo(Status.Code.UNAVAILABLE));
    }

    @Test
    void aRevokedCertificateIsRefusedWhileAnotherOfTheSameIdentityPasses() throws Exception {
        RevocationWatcher revocations = following(inventory);
        inventory.refuseRevoked(revocations);
        Svid revoked = frontend.svid();
        Svid renewed = frontend.renewNow();
        String serial = revoked.leaf().getSerialNumber().toString(16);

        revoke(RevocationTarget.newBuilder().setSerial(serial).build());
        await(() -> revocations.isRevokedSerial(serial));

        assertThat(Handshake.mutual(inventory.sslContext(), presenting(revoked)).serverRefusal())
                .hasStackTraceContaining("the peer " + FRONTEND + " is refused: certificate " + serial + " is revoked");
        assertThat(Handshake.mutual(inventory.sslContext(), presenting(renewed)).succeeded()).isTrue();
        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).succeeded()).isTrue();
    }

    @Test
    void everyPeerIsRefusedUntilTheRevocationsAreLoaded() throws Exception {
        // Nothing listens on port 1: this watcher never catches up.
        ManagedChannel nowhere = Grpc.newChannelBuilder("127.0.0.1:1", InsecureChannelCredentials.create()).build();
        toClose.add(nowhere::shutdownNow);
        RevocationWatcher neverLoaded = RevocationWatcher.builder().channel(nowhere).scheduler(watching).start();
        toClose.add(neverLoaded);
        String notLoaded = "is refused: revocations are not loaded yet (the revocation stream has not caught up"
                + " since start); retry shortly";

        inventory.refuseRevoked(neverLoaded);
        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).serverRefusal())
                .hasStackTraceContaining("the peer " + FRONTEND + " " + notLoaded);
        frontend.refuseRevoked(neverLoaded);
        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).clientRefusal())
                .hasStackTraceContaining("the peer " + INVENTORY + " " + notLoaded);

        // Channels to Lanyard are not checked, so the revocations can load over one.
        RevocationWatcher loaded = following(frontend);
        frontend.refuseRevoked(loaded);
        inventory.refuseRevoked(loaded);
        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).succeeded()).isTrue();
    }

    @Test
    void withoutTheOptInARevokedPeerStillPassesTheHandshake() throws Exception {
        RevocationWatcher revocations = following(frontend);
        InventoryServer server = serve(inventory);
        revoke(RevocationTarget.newBuilder().setSpiffeId(INVENTORY).build());
        revoke(RevocationTarget.newBuilder().setSpiffeId(FRONTEND).build());
        await(() -> revocations.isRevokedIdentity(INVENTORY) && revocations.isRevokedIdentity(FRONTEND));

        assertThat(Handshake.mutual(inventory.sslContext(), frontend.sslContext()).succeeded()).isTrue();
        server.call(frontend.channelCredentials());
    }

    private WorkloadCredentials bootstrap(String spiffeId, String... dnsNames) throws CredentialException {
        lanyard.register(spiffeId, dnsNames);
        WorkloadCredentials credentials = WorkloadCredentials.builder()
                .target("localhost:" + lanyard.server().grpcPort())
                .joinToken(lanyard.joinToken(spiffeId))
                .trustBundle(lanyard.server().trustBundle())
                .dnsNames(List.of(dnsNames))
                .clock(lanyard.clock()).scheduler(new FakeScheduler(lanyard.clock())).random(new SecureRandom())
                .bootstrap();
        toClose.add(credentials);
        return credentials;
    }

    /** A watcher following Lanyard over {@code credentials}' channel to it, loaded. */
    private RevocationWatcher following(WorkloadCredentials credentials) throws InterruptedException {
        ManagedChannel channel = Grpc.newChannelBuilder("localhost:" + lanyard.server().grpcPort(),
                credentials.lanyardChannelCredentials()).build();
        toClose.add(channel::shutdownNow);
        RevocationWatcher watcher = RevocationWatcher.builder().channel(channel).scheduler(watching).start();
        toClose.add(watcher);
        assertThat(watcher.awaitLoaded(Duration.ofSeconds(30))).isTrue();
        return watcher;
    }

    private void revoke(RevocationTarget target) {
        lanyard.revocations().revoke(RevokeRequest.newBuilder().setTarget(target)
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
    }

    /** The frontend's context presenting exactly {@code svid}. */
    private SSLContext presenting(Svid svid) throws Exception {
        return context(new ReloadingKeyManager(svid), frontend.trustManager());
    }

    private static SSLContext context(KeyManager keys, TrustManager trust) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(new KeyManager[] {keys}, new TrustManager[] {trust}, null);
        return context;
    }

    private InventoryServer serve(WorkloadCredentials credentials) throws java.io.IOException {
        InventoryServer server = InventoryServer.start(credentials.serverCredentials());
        toClose.add(server);
        return server;
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within 15 s").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
