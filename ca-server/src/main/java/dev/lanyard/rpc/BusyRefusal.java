package dev.lanyard.rpc;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.metrics.LanyardMetrics;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refuses the calls the pool for calls that may block had no room for, with RESOURCE_EXHAUSTED. The pool
 * decides when gRPC asks it for the call's executor ({@link #refuse}); gRPC cannot be told "no" there
 * (an exception from that executor resets the stream or is only logged), so the call is run in place and
 * this interceptor, the outermost, answers it before the request chain or a handler sees it. Nothing here
 * waits: the answer goes at once, the audit record (once per source and minute, with a count, as the
 * chain's rate-limit refusals) is written in the background - a slow database is a usual reason for a
 * full pool. Counted on /metrics and logged once per source and minute.
 */
public final class BusyRefusal implements ServerInterceptor {

    private static final Logger LOG = LoggerFactory.getLogger(BusyRefusal.class);
    /** The setting whose bound was reached, the limit label on /metrics. */
    private static final String LIMIT = "max-queued-blocking-calls";

    private final String reason;
    private final ChainAudit audit;
    private final LanyardMetrics metrics;
    private final ThrottledLog log;
    /** Calls marked for refusal and not yet answered; weak, so a call gRPC dropped meanwhile does not stay. */
    private final Set<ServerCall<?, ?>> marked = Collections.synchronizedSet(
            Collections.newSetFromMap(new WeakHashMap<>()));
    /**
     * Calls marked and not yet answered (more, if gRPC dropped one): every call passes here, and while it
     * is 0 (the pool has room) none takes the set's lock.
     */
    private final AtomicInteger markedCount = new AtomicInteger();

    public BusyRefusal(int maxBlockingCalls, int maxQueuedBlockingCalls, AuditLog audit, LanyardMetrics metrics,
            Clock clock) {
        this.reason = "the server is busy: all " + maxBlockingCalls + " threads for calls that may block are busy"
                + " (grpc.max-blocking-calls=" + maxBlockingCalls + ") and " + maxQueuedBlockingCalls
                + " such calls are waiting (grpc.max-queued-blocking-calls=" + maxQueuedBlockingCalls
                + "); retry later";
        this.audit = new ChainAudit(audit, clock);
        this.metrics = metrics;
        this.log = new ThrottledLog(LOG, clock);
    }

    /** Marks {@code call} (the one gRPC passes to its executor supplier) to be refused when it starts. */
    public void refuse(ServerCall<?, ?> call) {
        markedCount.incrementAndGet();
        marked.add(call);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        if (markedCount.get() == 0 || !marked.remove(call)) {
            return next.startCall(call, headers);
        }
        markedCount.decrementAndGet();
        String method = call.getMethodDescriptor().getFullMethodName();
        String source = source(call);
        metrics.grpcRefused(LIMIT);
        log.warn(LIMIT + " " + source, "refused a call to " + method + " from " + source + ": " + reason);
        call.close(Status.RESOURCE_EXHAUSTED.withDescription(reason), new Metadata());
        audit.throttled(LIMIT, LIMIT + " " + source, source, method, reason).whenComplete((done, failure) -> {
            if (failure != null) {
                LOG.error("could not audit the refusal of a call to {}", method, failure);
            }
        });
        return new ServerCall.Listener<>() {
        };
    }

    private static String source(ServerCall<?, ?> call) {
        SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return remote instanceof InetSocketAddress inet ? "address " + inet.getAddress().getHostAddress()
                : "address " + remote;
    }
}
