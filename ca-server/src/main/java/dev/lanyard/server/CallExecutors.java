package dev.lanyard.server;

import dev.lanyard.rpc.BusyRefusal;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.health.v1.HealthGrpc;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which thread a gRPC call runs on (with the server's own executor set to run calls in place).
 * Renewals and tokens never block: the request chain and the handler check, sign and queue the record,
 * and the commit answers them later. So they stay on the network thread that read them, with no
 * hand-off to a pool thread and back; the hand-offs (about ten thread switches a renewal) cost more
 * CPU than the handler itself. Every other call may block (admin changes, streams, a bootstrap's
 * database reads) and runs on a pool; so do renewals and tokens when the keys are in an HSM, where
 * each signature is a call to another device that may wait.
 * <p>
 * The pool is bounded: at most grpc.max-blocking-calls threads, and at most grpc.max-queued-blocking-calls
 * more calls waiting for one (a burst of bootstraps or a slow database would otherwise start a thread, with
 * its stack and a database connection to wait for, per waiting call). A new call that finds both full is
 * handed to {@link BusyRefusal}, which answers RESOURCE_EXHAUSTED. The bound is checked when a call
 * arrives, never when a call already admitted needs the pool again (its next message, its end): those
 * always run, so no admitted call is left half-done.
 */
final class CallExecutors implements ServerCallExecutorSupplier, AutoCloseable {

    /** The calls that run in place when signing happens in this process. Their handlers must not block. */
    static final Set<String> NON_BLOCKING = Set.of(
            CertificateServiceGrpc.getRenewCertificateMethod().getFullMethodName(),
            TokenServiceGrpc.getIssueTokenMethod().getFullMethodName());
    /**
     * The health check reads a status held in memory, so it always runs in place: a probe is never
     * queued behind blocking calls, nor refused as busy when the pool is full.
     */
    static final String HEALTH_CHECK = HealthGrpc.getCheckMethod().getFullMethodName();

    private final ThreadPoolExecutor blocking;
    private final boolean inPlace;
    /** Running threads plus waiting calls the bound admits: grpc.max-blocking-calls + grpc.max-queued-blocking-calls. */
    private final int capacity;
    /** Tasks on the pool (waiting or running), plus calls admitted whose first task is not there yet. */
    private final AtomicInteger pending = new AtomicInteger();
    private final BusyRefusal busy;

    /**
     * @param signsInProcess whether signing happens in this process (software keys), not in an HSM
     * @param maxThreads     threads for calls that may block
     * @param maxQueued      calls that may wait for one of them
     * @param busy           answers the calls that found no room
     */
    CallExecutors(boolean signsInProcess, int maxThreads, int maxQueued, BusyRefusal busy) {
        if (maxThreads < 1 || maxQueued < 0) {
            throw new IllegalArgumentException("grpc.max-blocking-calls must be at least 1 and "
                    + "grpc.max-queued-blocking-calls at least 0");
        }
        this.inPlace = signsInProcess;
        this.capacity = maxThreads + maxQueued;
        this.busy = busy;
        AtomicInteger threads = new AtomicInteger();
        // unbounded queue: admission (below) bounds it; the pool itself must never reject an admitted call's task
        this.blocking = new ThreadPoolExecutor(maxThreads, maxThreads, 1, TimeUnit.MINUTES,
                new LinkedBlockingQueue<>(), runnable -> {
                    Thread thread = new Thread(runnable, "lanyard-grpc-" + threads.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                });
        this.blocking.allowCoreThreadTimeOut(true); // idle threads go, as before
    }

    @Override
    public <Q, R> Executor getExecutor(ServerCall<Q, R> call, Metadata headers) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (inPlace && NON_BLOCKING.contains(method) || method.equals(HEALTH_CHECK)) {
            return null;
        }
        if (!reserve()) {
            busy.refuse(call);
            return null; // in place: the refusal does not block
        }
        return new AdmittedCall();
    }

    private boolean reserve() {
        while (true) {
            int n = pending.get();
            if (n >= capacity) {
                return false;
            }
            if (pending.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /**
     * One admitted call's way onto the pool. gRPC hands the pool one task of a call at a time (its
     * serializing executor), so pending counts calls waiting or running, not idle open streams.
     */
    private final class AdmittedCall implements Executor {

        /** The slot reserved on admission, taken by the call's first task. */
        private final AtomicBoolean reserved = new AtomicBoolean(true);

        @Override
        public void execute(Runnable task) {
            if (!reserved.compareAndSet(true, false)) {
                pending.incrementAndGet();
            }
            try {
                blocking.execute(() -> {
                    try {
                        task.run();
                    } finally {
                        pending.decrementAndGet();
                    }
                });
            } catch (RejectedExecutionException closed) {
                pending.decrementAndGet();
                throw closed;
            }
        }
    }

    /** After the server has terminated: no call is left to run. */
    @Override
    public void close() {
        blocking.shutdownNow();
    }
}
