package dev.lanyard.server;

import dev.lanyard.revocation.RevocationWatchers;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import dev.lanyard.v1.WatchRevocationsRequest;
import dev.lanyard.v1.WatchTrustBundleRequest;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Watch streams over real TLS: capped per identity, and a watcher that does not read is not buffered. */
class WatchStreamsTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String API = "spiffe://lanyard.local/ns/shop/sa/api";
    static final int CAP = GrpcLimits.defaults().maxWatchStreamsPerIdentity();

    @TempDir
    Path dir;
    RunningServer lanyard;
    final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.register(WEB);
        lanyard.register(API);
    }

    @AfterEach
    void stop() {
        channels.forEach(ManagedChannel::shutdownNow);
        lanyard.close();
    }

    /** A stream's observer that keeps what it got and can cancel or start reading. */
    static final class Watch<T> implements ClientResponseObserver<Object, T> {
        final List<T> received = new CopyOnWriteArrayList<>();
        final CompletableFuture<Status> ended = new CompletableFuture<>();
        final int initialRequests;
        volatile ClientCallStreamObserver<Object> call;

        Watch(int initialRequests) {
            this.initialRequests = initialRequests;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<Object> requestStream) {
            call = requestStream;
            if (initialRequests >= 0) {
                requestStream.disableAutoRequestWithInitial(initialRequests);
            }
        }

        @Override
        public void onNext(T value) {
            received.add(value);
        }

        @Override
        public void onError(Throwable t) {
            ended.complete(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            ended.complete(Status.OK);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Watch<RevocationEvent> watchRevocations(ManagedChannel channel, int initialRequests) {
        Watch<RevocationEvent> watch = new Watch<>(initialRequests);
        RevocationServiceGrpc.newStub(channel).watchRevocations(WatchRevocationsRequest.getDefaultInstance(),
                (ClientResponseObserver) watch);
        return watch;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Watch<TrustBundle> watchBundle(ManagedChannel channel) {
        Watch<TrustBundle> watch = new Watch<>(-1);
        TrustBundleServiceGrpc.newStub(channel).watchTrustBundle(WatchTrustBundleRequest.getDefaultInstance(),
                (ClientResponseObserver) watch);
        return watch;
    }

    @Test
    void watchStreamsAreCappedPerIdentity() throws Exception {
        Credential web = lanyard.bootstrap(WEB);
        Credential api = lanyard.bootstrap(API);
        List<Watch<RevocationEvent>> open = new ArrayList<>();
        for (int i = 0; i < CAP; i++) { // each on its own connection: the cap is per identity, not per connection
            Watch<RevocationEvent> watch = watchRevocations(lanyard.channel(web), -1);
            await(() -> !watch.received.isEmpty(), "watch " + i + " caught up");
            open.add(watch);
        }

        Watch<RevocationEvent> oneMore = watchRevocations(lanyard.channel(web), -1);
        Status refused = oneMore.ended.get(30, TimeUnit.SECONDS);
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).contains(WEB).contains("already has " + CAP + " WatchRevocations streams")
                .contains("grpc.max-watch-streams-per-identity=" + CAP);
        assertThat(open).allSatisfy(w -> assertThat(w.ended).isNotDone());
        await(() -> lanyard.server().audit().recent(50).stream().anyMatch(e -> e.action().equals("rpc.watch-cap")
                && e.actor().equals(WEB) && e.outcome() == dev.lanyard.audit.AuditEvent.Outcome.REFUSED
                && e.reason().contains("already has " + CAP)), "the refusal audited");
        Watch<RevocationEvent> yetAnother = watchRevocations(lanyard.channel(web), -1);
        assertThat(yetAnother.ended.get(30, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(lanyard.server().audit().recent(50)).as("a second refusal within the minute is counted, not recorded")
                .filteredOn(e -> e.action().equals("rpc.watch-cap")).hasSize(1);

        // another identity is not affected
        Watch<RevocationEvent> other = watchRevocations(lanyard.channel(api), -1);
        await(() -> !other.received.isEmpty(), "another identity's watch caught up");

        // a stream that ends frees its slot
        open.get(0).call.cancel("done", null);
        await(() -> {
            Watch<RevocationEvent> again = watchRevocations(lanyard.channel(web), -1);
            try {
                return again.ended.get(300, TimeUnit.MILLISECONDS) == null;
            } catch (java.util.concurrent.TimeoutException stillOpen) {
                return true;
            } catch (Exception e) {
                return false;
            }
        }, "a slot freed by a cancelled stream");
    }

    @Test
    void bundleWatchesWithoutACertificateAreCappedPerSourceAddress() throws Exception {
        ManagedChannel anonymous = lanyard.channel(null);
        for (int i = 0; i < CAP; i++) {
            Watch<TrustBundle> watch = watchBundle(anonymous);
            await(() -> !watch.received.isEmpty(), "bundle watch " + i);
        }
        Status refused = watchBundle(lanyard.channel(null)).ended.get(30, TimeUnit.SECONDS);
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).contains("address 127.0.0.1").contains("WatchTrustBundle");
        // the revocation watch of a workload is counted apart
        Credential web = lanyard.bootstrap(WEB);
        Watch<RevocationEvent> revocations = watchRevocations(lanyard.channel(web), -1);
        await(() -> !revocations.received.isEmpty(), "a revocation watch beside the bundle watches");
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void healthWatchesAndReflectionStreamsWithoutACertificateAreCappedPerSourceAddress() throws Exception {
        // Neither service needs a certificate and both streams stay open until the client ends them:
        // without the cap one address holds as many as its connections times grpc.max-concurrent-streams.
        ManagedChannel anonymous = lanyard.channel(null);
        for (int i = 0; i < CAP; i++) {
            Watch<HealthCheckResponse> watch = new Watch<>(-1);
            HealthGrpc.newStub(anonymous).watch(HealthCheckRequest.getDefaultInstance(), (ClientResponseObserver) watch);
            await(() -> !watch.received.isEmpty(), "health watch " + i);
        }
        Watch<HealthCheckResponse> oneMoreWatch = new Watch<>(-1);
        HealthGrpc.newStub(lanyard.channel(null)).watch(HealthCheckRequest.getDefaultInstance(),
                (ClientResponseObserver) oneMoreWatch);
        Status refused = oneMoreWatch.ended.get(30, TimeUnit.SECONDS);
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).contains("address 127.0.0.1").contains(CAP + " Watch streams");

        ServerReflectionRequest list = ServerReflectionRequest.newBuilder().setListServices("").build();
        for (int i = 0; i < CAP; i++) {
            Watch<ServerReflectionResponse> reflection = new Watch<>(-1);
            ServerReflectionGrpc.newStub(anonymous).serverReflectionInfo((ClientResponseObserver) reflection)
                    .onNext(list);
            await(() -> !reflection.received.isEmpty(), "reflection stream " + i);
        }
        Watch<ServerReflectionResponse> oneMoreReflection = new Watch<>(-1);
        ServerReflectionGrpc.newStub(lanyard.channel(null)).serverReflectionInfo((ClientResponseObserver) oneMoreReflection)
                .onNext(list);
        refused = oneMoreReflection.ended.get(30, TimeUnit.SECONDS);
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).contains("address 127.0.0.1").contains("ServerReflectionInfo");

        // unary health checks are not streams: still served
        assertThat(HealthGrpc.newBlockingStub(anonymous).withDeadlineAfter(30, TimeUnit.SECONDS)
                .check(HealthCheckRequest.getDefaultInstance()).getStatus())
                .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        String metrics = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(lanyard.httpUrl("/metrics"))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("lanyard_grpc_refused_total{limit=\"max-watch-streams-per-identity\"} 2.0");
    }

    @Test
    void aWatcherThatDoesNotReadIsNotBufferedAndResumesWhereItStopped() throws Exception {
        Credential web = lanyard.bootstrap(WEB);
        // A client that never asks for a message: its HTTP/2 window (1 KiB here) fills and stays full.
        ManagedChannel tiny = NettyChannelBuilder.forAddress("localhost", lanyard.server().grpcPort(),
                        TlsChannels.credentials(lanyard.server().trustBundle(), web))
                .flowControlWindow(1024).build();
        channels.add(tiny);
        Watch<RevocationEvent> stalled = watchRevocations(tiny, 0);
        Watch<RevocationEvent> reading = watchRevocations(lanyard.channel(web), -1);
        await(() -> !reading.received.isEmpty(), "the reading watcher caught up");
        RevocationWatchers fanout = lanyard.server().revocationWatchers();
        await(() -> fanout.count() == 2, "both watchers registered");
        long first = lanyard.server().revocationWatchers().oldestSent();

        int published = 300;
        String note = "n".repeat(500); // ~600-byte events: gRPC's 32 KiB ready threshold is ~55 of them
        var admin = RevocationServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        for (int i = 0; i < published; i++) { // a deadline per call: 300 of them may take longer than one
            admin.withDeadlineAfter(30, TimeUnit.SECONDS).revoke(RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setJti("jti-" + i))
                    .setNote(note).build());
        }
        await(() -> revoked(reading).size() == published, "the reading watcher got every event");

        long latest = latestOf(reading);
        assertThat(fanout.stalled()).isEqualTo(1);
        long sentToStalled = fanout.oldestSent() - first;
        // 57 of 300 when measured: what fits in the 1 KiB window plus gRPC's 32 KiB ready threshold
        assertThat(sentToStalled).as("events handed to gRPC for the watcher that does not read")
                .isLessThan(100).isLessThan(latest - first);
        assertThat(stalled.ended).isNotDone();

        stalled.call.request(Integer.MAX_VALUE);
        await(() -> revoked(stalled).size() == published, "the stalled watcher resumed and got every event");
        assertThat(revoked(stalled)).containsExactlyElementsOf(revoked(reading));
        await(() -> fanout.stalled() == 0, "nobody stalled once it reads");
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void aBundleWatcherThatDoesNotReadGetsOnlyTheNewestBundleWhenItDoes() throws Exception {
        ManagedChannel tiny = NettyChannelBuilder.forAddress("localhost", lanyard.server().grpcPort(),
                        TlsChannels.credentials(lanyard.server().trustBundle(), null))
                .flowControlWindow(1024).build();
        channels.add(tiny);
        Watch<TrustBundle> stalled = new Watch<>(0);
        TrustBundleServiceGrpc.newStub(tiny).watchTrustBundle(WatchTrustBundleRequest.getDefaultInstance(),
                (ClientResponseObserver) stalled);
        Watch<TrustBundle> reading = watchBundle(lanyard.channel(null));
        await(() -> !reading.received.isEmpty(), "the reading watcher got the bundle");

        var keys = dev.lanyard.v1.KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        int changes = 60; // each forced JWT rotation step (prepare, then activate) publishes a new bundle
        for (int i = 0; i < changes; i++) {
            keys.withDeadlineAfter(30, TimeUnit.SECONDS).rotateKeys(dev.lanyard.v1.RotateKeysRequest.newBuilder()
                    .setKind(dev.lanyard.v1.KeyKind.KEY_KIND_JWT).build());
            lanyard.clock().advance(Duration.ofMinutes(11)); // past jwt.publish-lead, so the next step may activate
        }
        long newest = lanyard.server().bundles().current().sequence();
        await(() -> reading.received.get(reading.received.size() - 1).getSequence() == newest,
                "the reading watcher got the newest bundle");
        assertThat(reading.received.size()).isGreaterThan(changes / 2);

        stalled.call.request(Integer.MAX_VALUE);
        await(() -> !stalled.received.isEmpty()
                && stalled.received.get(stalled.received.size() - 1).getSequence() == newest,
                "the stalled watcher got the newest bundle once it read");
        // measured: 23 of 61 (what fit before the stream stopped being ready, then only the newest)
        assertThat(stalled.received.size()).as("bundles handed to gRPC for a watcher that did not read")
                .isLessThan(changes / 2).isLessThan(reading.received.size());
        assertThat(stalled.ended).isNotDone();
    }

    static List<Long> revoked(Watch<RevocationEvent> watch) {
        return watch.received.stream().filter(RevocationEvent::hasRevoked).map(RevocationEvent::getSequence).toList();
    }

    static long latestOf(Watch<RevocationEvent> watch) {
        List<Long> sequences = revoked(watch);
        return sequences.get(sequences.size() - 1);
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(50);
        }
    }
}
