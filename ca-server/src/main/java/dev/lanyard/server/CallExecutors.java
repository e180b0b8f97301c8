package dev.lanyard.server;

import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which thread a gRPC call runs on (with the server's own executor set to run calls in place).
 * Renewals and tokens never block: the request chain and the handler check, sign and queue the record,
 * and the commit answers them later. So they stay on the network thread that read them, with no
 * hand-off to a pool thread and back; the hand-offs (about ten thread switches a renewal) cost more
 * CPU than the handler itself. Every other call may block (admin changes, streams, a bootstrap's
 * database reads) and runs on a pool; so do renewals and tokens when the keys are in an HSM, where
 * each signature is a call to another device that may wait.
 */
final class CallExecutors implements ServerCallExecutorSupplier, AutoCloseable {

    /** The calls that run in place. Their handlers must not block. */
    static final Set<String> NON_BLOCKING = Set.of(
            CertificateServiceGrpc.getRenewCertificateMethod().getFullMethodName(),
            TokenServiceGrpc.getIssueTokenMethod().getFullMethodName());

    private final ExecutorService blocking;
    private final boolean inPlace;

    /** @param signsInProcess whether signing happens in this process (software keys), not in an HSM */
    CallExecutors(boolean signsInProcess) {
        this.inPlace = signsInProcess;
        AtomicInteger threads = new AtomicInteger();
        this.blocking = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "lanyard-grpc-" + threads.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    @Override
    public <Q, R> Executor getExecutor(ServerCall<Q, R> call, Metadata headers) {
        return inPlace && NON_BLOCKING.contains(call.getMethodDescriptor().getFullMethodName()) ? null : blocking;
    }

    /** After the server has terminated: no call is left to run. */
    @Override
    public void close() {
        blocking.shutdownNow();
    }
}
