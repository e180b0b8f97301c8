package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.TokenServiceGrpc;
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
        try (CallExecutors executors = new CallExecutors(true)) {
            assertThat(executors.getExecutor(call(CertificateServiceGrpc.getRenewCertificateMethod()), new Metadata()))
                    .as("in place").isNull();
            assertThat(executors.getExecutor(call(TokenServiceGrpc.getIssueTokenMethod()), new Metadata()))
                    .as("in place").isNull();

            Executor bootstrap = executors.getExecutor(call(CertificateServiceGrpc.getIssueCertificateMethod()),
                    new Metadata());
            Executor revoke = executors.getExecutor(call(RevocationServiceGrpc.getRevokeMethod()), new Metadata());
            assertThat(bootstrap).isNotNull().isSameAs(revoke);
            CompletableFuture<String> thread = new CompletableFuture<>();
            bootstrap.execute(() -> thread.complete(Thread.currentThread().getName()));
            assertThat(thread.get(5, TimeUnit.SECONDS)).startsWith("lanyard-grpc-");

            executors.close();
            assertThatThrownBy(() -> bootstrap.execute(() -> { })).isInstanceOf(RejectedExecutionException.class);
        }
    }

    @Test
    void withKeysInAnHsmEveryCallRunsOnThePool() {
        try (CallExecutors executors = new CallExecutors(false)) {
            assertThat(executors.getExecutor(call(CertificateServiceGrpc.getRenewCertificateMethod()), new Metadata()))
                    .isNotNull();
            assertThat(executors.getExecutor(call(TokenServiceGrpc.getIssueTokenMethod()), new Metadata()))
                    .isNotNull();
        }
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
