package dev.lanyard.rpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.Csrs;
import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.AuditRecord;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupServiceGrpc;
import dev.lanyard.v1.CreateBackupRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.ListAuditRequest;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.security.KeyPair;
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

/**
 * Streams outliving their caller's rights, on a real server over real TLS: the chain ends an open
 * stream when its caller is revoked or its certificate expires, audits that, and keeps nothing of it.
 */
class OpenCallsTest {

    static final String ADMIN = "spiffe://lanyard.local/lanyard/admin";
    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String API = "spiffe://lanyard.local/ns/shop/sa/api";
    static final String FOLLOW_AUDIT = AuditServiceGrpc.getFollowAuditMethod().getFullMethodName();
    static final String WATCH_REVOCATIONS = RevocationServiceGrpc.getWatchRevocationsMethod().getFullMethodName();
    /** "Within a second or two" of the revocation, with room for a slow build machine. */
    static final long ENDS_WITHIN_SECONDS = 3;

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void anAdminsAuditFollowEndsWhenItsCertificateIsRevoked() throws Exception {
        Credential admin = lanyard.adminCredential();
        String serial = admin.leaf().getSerialNumber().toString(16);
        Stream<AuditRecord> follow = followAudit(lanyard.channel(admin));
        await(() -> !follow.received.isEmpty(), "the follow caught up");

        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSerial(serial))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        Status ended = follow.ended.get(ENDS_WITHIN_SECONDS, TimeUnit.SECONDS);
        assertThat(ended.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(ended.getDescription()).contains("certificate " + serial + " is revoked")
                .contains("the call open under it was closed");
        int seenAtTheEnd = follow.received.size();
        // something audited after the end (an anonymous bootstrap refused): nothing more reaches the revoked admin
        assertThatThrownBy(() -> lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation("lyjt_" + "0".repeat(32) + "." + "A".repeat(43)))
                .build())).isInstanceOf(StatusRuntimeException.class);
        await(() -> !audited("certificate.bootstrap").isEmpty(), "the refused bootstrap audited");
        Thread.sleep(1_000);
        assertThat(follow.received).hasSize(seenAtTheEnd);
        assertClosingAudited("rpc.revoked", ADMIN, FOLLOW_AUDIT, "certificate " + serial + " is revoked");
        await(() -> lanyard.server().requestChain().openCalls() == 0, "nothing kept of the ended call");
    }

    @Test
    void anAdminsAuditFollowEndsWhenItsIdentityIsRevoked() throws Exception {
        Stream<AuditRecord> follow = followAudit(lanyard.channel(lanyard.adminCredential()));
        await(() -> !follow.received.isEmpty(), "the follow caught up");

        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(ADMIN))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        Status ended = follow.ended.get(ENDS_WITHIN_SECONDS, TimeUnit.SECONDS);
        assertThat(ended.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(ended.getDescription()).contains(ADMIN + " is revoked");
        assertClosingAudited("rpc.revoked", ADMIN, FOLLOW_AUDIT, ADMIN + " is revoked");
        await(() -> lanyard.server().requestChain().openCalls() == 0, "nothing kept of the ended call");
    }

    @Test
    void aRevokedWorkloadsWatchEndsWhileAnotherWatchHearsOfIt() throws Exception {
        lanyard.register(WEB);
        lanyard.register(API);
        Stream<RevocationEvent> web = watchRevocations(lanyard.channel(lanyard.bootstrap(WEB)));
        Stream<RevocationEvent> api = watchRevocations(lanyard.channel(lanyard.bootstrap(API)));
        await(() -> !web.received.isEmpty() && !api.received.isEmpty(), "both watches caught up");

        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(WEB))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        Status ended = web.ended.get(ENDS_WITHIN_SECONDS, TimeUnit.SECONDS);
        assertThat(ended.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(ended.getDescription()).contains(WEB + " is revoked");
        assertThat(web.received).as("the revoked watch was sent its own revocation before it ended")
                .anyMatch(e -> e.hasRevoked() && e.getRevoked().getTarget().getSpiffeId().equals(WEB));
        await(() -> api.received.stream().anyMatch(e -> e.hasRevoked()
                && e.getRevoked().getTarget().getSpiffeId().equals(WEB)), "the other watch heard of the revocation");
        assertThat(api.ended).isNotDone();
        assertClosingAudited("rpc.revoked", WEB, WATCH_REVOCATIONS, WEB + " is revoked");
        await(() -> lanyard.server().requestChain().openCalls() == 1, "only the other watch is kept");
    }

    @Test
    void aRevocationRecordedOnAnotherReplicaEndsTheStreamsOpenHere() throws Exception {
        lanyard.register(WEB);
        Credential web = lanyard.bootstrap(WEB);
        try (LanyardServer second = LanyardServer.start(ServerConfig.dev(dir, 0, 0), lanyard.clock())) {
            ManagedChannel channel = TlsChannels.open(second.grpcPort(), second.trustBundle(), web);
            try {
                Stream<RevocationEvent> watch = watchRevocations(channel);
                await(() -> !watch.received.isEmpty(), "the watch on the second replica caught up");

                lanyard.revocations().revoke(RevokeRequest.newBuilder()
                        .setTarget(RevocationTarget.newBuilder().setSerial(web.leaf().getSerialNumber().toString(16)))
                        .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

                Status ended = watch.ended.get(ENDS_WITHIN_SECONDS, TimeUnit.SECONDS);
                assertThat(ended.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(ended.getDescription()).contains("is revoked");
                await(() -> second.requestChain().openCalls() == 0, "nothing kept of the ended call");
            } finally {
                channel.shutdownNow();
            }
        }
    }

    @Test
    void aStreamEndsWhenItsCallersCertificateExpires() throws Exception {
        lanyard.register(WEB);
        Credential web = bootstrap(WEB, Duration.ofMinutes(1));
        Stream<RevocationEvent> watch = watchRevocations(lanyard.channel(web));
        await(() -> !watch.received.isEmpty(), "the watch caught up");
        Thread.sleep(1_500); // a sweep or two while the certificate is good: the watch stays
        assertThat(watch.ended).isNotDone();

        lanyard.clock().advance(Duration.ofMinutes(1).plusSeconds(1));

        Status ended = watch.ended.get(ENDS_WITHIN_SECONDS, TimeUnit.SECONDS);
        assertThat(ended.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(ended.getDescription()).contains("client certificate expired at "
                + web.leaf().getNotAfter().toInstant());
        assertClosingAudited("rpc.expired", WEB, WATCH_REVOCATIONS, "client certificate expired at");
        await(() -> lanyard.server().requestChain().openCalls() == 0, "nothing kept of the ended call");
    }

    @Test
    void everyWayAStreamEndsLeavesNoOpenCallBehind() throws Exception {
        Channel admin = lanyard.channel(lanyard.adminCredential());
        lanyard.register(WEB);
        Channel web = lanyard.channel(lanyard.bootstrap(WEB));
        int cap = lanyard.server().config().grpcLimits().maxWatchStreamsPerIdentity();
        List<Stream<?>> streams = new ArrayList<>();
        for (int i = 0; i < 20; i++) { // cancelled by the client
            streams.add(followAudit(admin));
        }
        for (int i = 0; i < cap; i++) {
            streams.add(watchRevocations(web));
        }
        await(() -> streams.stream().allMatch(s -> !s.received.isEmpty()), "every stream caught up");
        assertThat(lanyard.server().requestChain().openCalls()).isEqualTo(streams.size());
        streams.forEach(s -> s.call.cancel("done", null));
        for (Stream<?> s : streams) {
            assertThat(s.ended.get(10, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.CANCELLED);
        }
        // The client hears CANCELLED at once; the server (the chain, the watch cap inside it) a moment later.
        await(() -> lanyard.server().requestChain().openCalls() == 0, "the cancelled streams forgotten");

        List<Stream<RevocationEvent>> capped = new ArrayList<>();
        for (int i = 0; i <= cap; i++) { // the last is refused by the watch cap, after the chain
            capped.add(watchRevocations(web));
        }
        await(() -> capped.stream().filter(s -> s.ended.isDone()).count() == 1, "one over the cap refused");
        assertThat(capped.stream().filter(s -> s.ended.isDone()).findFirst().orElseThrow().ended.get().getCode())
                .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        capped.forEach(s -> s.call.cancel("done", null));

        for (int i = 0; i < 3; i++) { // completed by the server
            Stream<BackupChunk> backup = new Stream<>();
            BackupServiceGrpc.newStub(admin).createBackup(CreateBackupRequest.getDefaultInstance(), backup);
            assertThat(backup.ended.get(60, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.OK);
        }

        await(() -> lanyard.server().requestChain().openCalls() == 0, "every ended call forgotten");
    }

    private Credential bootstrap(String spiffeId, Duration ttl) {
        KeyPair keys = Csrs.ecP256();
        return RunningServer.credential(keys, lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(lanyard.joinToken(spiffeId)))
                .setCsr(ByteString.copyFrom(Csrs.csr(keys)))
                .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.toSeconds()))
                .build()));
    }

    /** The chain's record of the closing: REFUSED, under the caller, naming the method and why. */
    private void assertClosingAudited(String action, String actor, String method, String why) throws Exception {
        await(() -> audited(action).size() == 1, "the closing audited once");
        AuditEvent closing = audited(action).get(0);
        assertThat(closing.actor()).isEqualTo(actor);
        assertThat(closing.target()).isEqualTo(method);
        assertThat(closing.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
        assertThat(closing.reason()).contains(why).contains("the call open under it was closed");
    }

    /** The audit records of {@code action}, newest first. */
    private List<AuditEvent> audited(String action) {
        return lanyard.server().audit().recent(5_000).stream().filter(e -> e.action().equals(action)).toList();
    }

    static Stream<AuditRecord> followAudit(Channel channel) {
        Stream<AuditRecord> stream = new Stream<>();
        AuditServiceGrpc.newStub(channel).followAudit(ListAuditRequest.getDefaultInstance(), stream);
        return stream;
    }

    static Stream<RevocationEvent> watchRevocations(Channel channel) {
        Stream<RevocationEvent> stream = new Stream<>();
        RevocationServiceGrpc.newStub(channel).watchRevocations(WatchRevocationsRequest.getDefaultInstance(), stream);
        return stream;
    }

    /** What a stream delivered, and how it ended. */
    static final class Stream<T> implements ClientResponseObserver<Object, T> {
        final List<T> received = new CopyOnWriteArrayList<>();
        final CompletableFuture<Status> ended = new CompletableFuture<>();
        volatile ClientCallStreamObserver<Object> call;

        @Override
        public void beforeStart(ClientCallStreamObserver<Object> requestStream) {
            call = requestStream;
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

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }
}
