package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.rpc.BusyRefusal;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Renewals and tokens stay on the network thread unless keys are in an HSM; every other call, which
 * may block, goes to the pool.
 */
class CallExecutorsTest {

    @Test
    void onlyRenewalsAndTokensRunInPlaceAndTheRestOnThePoolUntilClosed() throws Exception {
        try (CallExecutors executors = new CallExecutors(true, 2, 4, busy())) {
            assertThat(executors.getExecutor(call(CertificateServiceGrpc.getRenewCertificateMethod()), new Metadata()))
                    .as("in place").isNull();
            assertThat(executors.getExecutor(call(TokenServiceGrpc.getIssueTokenMethod()), new Metadata()))
                    .as("in place").isNull();
            assertThat(executors.getExecutor(call(HealthGrpc.getCheckMethod()), new Metadata()))
                    .as("in place").isNull();
            assertThat(executors.getExecutor(call(HealthGrpc.getWatchMethod()), new Metadata()))
                    .as("a stream, on the pool").isNotNull();

            Executor bootstrap = executors.getExecutor(call(CertificateServiceGrpc.getIssueCertificateMethod()),
                    new Metadata());
            Executor revoke = executors.getExecutor(call(RevocationServiceGrpc.getRevokeMethod()), new Metadata());
            assertThat(bootstrap).isNotNull();
            assertThat(revoke).isNotNull();
            CompletableFuture<String> thread = new CompletableFuture<>();
            bootstrap.execute(() -> thread.complete(Thread.currentThread().getName()));
            assertThat(thread.get(5, TimeUnit.SECONDS)).startsWith("lanyard-grpc-");

            executors.close();
            assertThatThrownBy(() -> bootstrap.execute(() -> { })).isInstanceOf(RejectedExecutionException.class);
        }
    }

    @Test
    void aNewCallFindingTheThreadsAndTheQueueFullRunsInPlaceToBeRefusedWhileAdmittedCallsGoOn() throws Exception {
        BusyRefusal busy = busy();
        try (CallExecutors executors = new CallExecutors(true, 1, 1, busy)) {
            java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
            Executor running = executors.getExecutor(call(RevocationServiceGrpc.getRevokeMethod()), new Metadata());
            running.execute(() -> {
                try {
                    held.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Executor waiting = executors.getExecutor(call(RevocationServiceGrpc.getRevokeMethod()), new Metadata());
            CompletableFuture<Void> waited = new CompletableFuture<>();
            waiting.execute(() -> waited.complete(null));

            assertThat(executors.getExecutor(call(RevocationServiceGrpc.getRevokeMethod()), new Metadata()))
                    .as("no room: run in place, to be refused").isNull();
            ServerCall<?, ?> probe = call(HealthGrpc.getCheckMethod());
            assertThat(executors.getExecutor(probe, new Metadata())).as("a health check runs in place").isNull();
            assertThat(startsPast(busy, probe)).as("and is not refused").isTrue();
            CompletableFuture<Void> next = new CompletableFuture<>();
            running.execute(() -> next.complete(null)); // an admitted call's next task is never refused

            held.countDown();
            waited.get(5, TimeUnit.SECONDS);
            next.get(5, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            Executor after;
            while ((after = executors.getExecutor(call(RevocationServiceGrpc.getRevokeMethod()), new Metadata())) == null
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(after).as("room again once the tasks ran").isNotNull();
        }
    }

    @Test
    void withKeysInAnHsmEveryCallRunsOnThePool() {
        try (CallExecutors executors = new CallExecutors(false, 2, 4, busy())) {
            assertThat(executors.getExecutor(call(CertificateServiceGrpc.getRenewCertificateMethod()), new Metadata()))
                    .isNotNull();
            assertThat(executors.getExecutor(call(TokenServiceGrpc.getIssueTokenMethod()), new Metadata()))
                    .isNotNull();
            assertThat(executors.getExecutor(call(HealthGrpc.getCheckMethod()), new Metadata()))
                    .as("no signature: in place").isNull();
        }
    }

    private static BusyRefusal busy() {
        return new BusyRefusal(2, 4, null, null, java.time.Clock.systemUTC());
    }

    /** Whether {@code busy} lets {@code call} start (it was not marked to be refused). */
    private static <Q, R> boolean startsPast(BusyRefusal busy, ServerCall<Q, R> call) {
        java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();
        busy.interceptCall(call, new Metadata(), (c, headers) -> {
            started.set(true);
            return new ServerCall.Listener<>() {
            };
        });
        return started.get();
    }

    private static <Q, R> ServerCall<Q, R> call(MethodDescriptor<Q, R> method) {
        return new ServerCall<>() {
            @Override
            public void request(int numMessages) {
            }

            @Override
            public void sendHeaders(Metadata headers) {
            }

            @Override
            public void sendMessage(R message) {
            }

            @Override
            public void close(Status status, Metadata trailers) {
            }

            @Override
            public boolean isCancelled() {
                return false;
            }

            @Override
            public MethodDescriptor<Q, R> getMethodDescriptor() {
                return method;
            }
        };
    }
}
