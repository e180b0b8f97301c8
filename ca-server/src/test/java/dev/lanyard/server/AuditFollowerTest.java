package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AuditRecord;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.ListAuditRequest;
import io.grpc.ClientCall;
import io.grpc.ForwardingServerCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * FollowAudit over a real Netty transport and the real trail: a client that stops reading makes the
 * server stop sending (nothing piles up in its memory), and once it reads again it gets every record.
 */
class AuditFollowerTest {

    /** The client's HTTP/2 window: what the transport takes before the client reads. */
    static final int CLIENT_WINDOW = 64 * 1024;
    static final int APPENDED = 3_000;

    @TempDir
    Path dir;
    RunningServer lanyard;
    Server server;
    ManagedChannel channel;
    ScheduledExecutorService followers = Executors.newSingleThreadScheduledExecutor();
    /** Records the service handed to gRPC, read or not. */
    final AtomicInteger sent = new AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        AuditLog audit = lanyard.server().audit();
        ServerInterceptor counting = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                    @Override
                    public void sendMessage(R message) {
                        sent.incrementAndGet();
                        super.sendMessage(message);
                    }
                }, headers);
            }
        };
        server = NettyServerBuilder.forPort(0).addService(ServerInterceptors.intercept(
                new AuditGrpcService(audit, new AuditedCall(audit, lanyard.clock()), followers), counting))
                .build().start();
        channel = NettyChannelBuilder.forAddress("localhost", server.getPort()).usePlaintext()
                .flowControlWindow(CLIENT_WINDOW).build();
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
        followers.shutdownNow();
        lanyard.close();
    }

    @Test
    void aFollowerThatDoesNotReadIsNotSentMoreThanTheTransportHoldsAndLaterGetsEveryRecordInOrder()
            throws Exception {
        List<AuditRecord> received = new CopyOnWriteArrayList<>();
        CompletableFuture<Status> ended = new CompletableFuture<>();
        ClientCall<ListAuditRequest, AuditRecord> call = channel.newCall(AuditServiceGrpc.getFollowAuditMethod(),
                io.grpc.CallOptions.DEFAULT);
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onMessage(AuditRecord message) {
                received.add(message);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
                ended.complete(status);
            }
        }, new Metadata());
        call.request(2); // and no more for now
        call.sendMessage(ListAuditRequest.getDefaultInstance());
        call.halfClose();
        await(() -> received.size() == 2, "the first two records");

        // appended while the client does not read, in batches so the test does not wait on each commit
        for (int batch = 0; batch < APPENDED / 100; batch++) {
            CompletableFuture<?>[] appends = new CompletableFuture<?>[100];
            for (int i = 0; i < 100; i++) {
                appends[i] = lanyard.server().audit().recordAsync(new AuditEvent(lanyard.clock().instant(), "lanyard",
                        "test.append", "record-" + batch + "-" + i, AuditEvent.Outcome.SUCCESS, ""));
            }
            CompletableFuture.allOf(appends).join();
        }
        Thread.sleep(3 * AuditGrpcService.FOLLOW_POLL.toMillis()); // polls that find the new records
        int sentWhilePaused = sent.get();
        Thread.sleep(2 * AuditGrpcService.FOLLOW_POLL.toMillis());

        // What the client's window and gRPC's 32 KiB send buffer hold (records are 200-odd bytes), and a page:
        // not the trail.
        assertThat(sentWhilePaused).as("records handed to gRPC while the client does not read")
                .isLessThan(1_000);
        assertThat(sent.get()).as("no more once the transport is full").isEqualTo(sentWhilePaused);
        assertThat(received).hasSize(2);

        call.request(Integer.MAX_VALUE);
        await(() -> received.stream().anyMatch(r -> r.getTarget().equals("record-29-99")), "the last appended");
        // and one appended after the client read again
        lanyard.server().audit().record(new AuditEvent(lanyard.clock().instant(), "lanyard", "test.append", "after",
                AuditEvent.Outcome.SUCCESS, ""));
        await(() -> received.get(received.size() - 1).getTarget().equals("after"), "the one appended after");

        long first = received.get(0).getId();
        assertThat(received).extracting(AuditRecord::getId)
                .containsExactlyElementsOf(LongStream.rangeClosed(first, first + received.size() - 1).boxed().toList());
        assertThat(received).filteredOn(r -> r.getAction().equals("test.append")).hasSize(APPENDED + 1);
        call.cancel("done", null);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
