package dev.lanyard.rpc;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.LoggerFactory;

/**
 * Caps the long-lived streams one caller holds open: at most {@code max} of each kind (WatchRevocations,
 * WatchTrustBundle, health Watch, reflection) per SPIFFE ID, or per source address for a caller without a
 * certificate (the health and reflection services need none: without this cap one address could hold
 * as many as its connections times grpc.max-concurrent-streams). One more is refused with
 * RESOURCE_EXHAUSTED naming the cap; a slot is freed when its stream ends however it ends. Runs after
 * the peer is identified (after the chain). Refusals are counted on /metrics, and audited and logged
 * as the chain's rate-limit refusals are: once per caller and minute, with a count. Unary calls pass
 * with one set lookup.
 */
public final class WatchStreamCap implements ServerInterceptor {

    private static final Set<String> WATCHES = Set.of(
            RevocationServiceGrpc.getWatchRevocationsMethod().getFullMethodName(),
            TrustBundleServiceGrpc.getWatchTrustBundleMethod().getFullMethodName(),
            HealthGrpc.getWatchMethod().getFullMethodName(),
            ServerReflectionGrpc.getServerReflectionInfoMethod().getFullMethodName());

    private final int max;
    private final ChainAudit audit;
    private final LanyardMetrics metrics;
    private final ThrottledLog log;
    private final Map<String, Integer> open = new HashMap<>();

    public WatchStreamCap(int max, AuditLog audit, LanyardMetrics metrics, Clock clock) {
        this.max = max;
        this.audit = new ChainAudit(audit, clock);
        this.metrics = metrics;
        this.log = new ThrottledLog(LoggerFactory.getLogger(WatchStreamCap.class), clock);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (!WATCHES.contains(method)) {
            return next.startCall(call, headers);
        }
        String caller = caller(call);
        String key = method + " " + caller;
        if (!acquire(key)) {
            String reason = caller + " already has " + max + " " + call.getMethodDescriptor().getBareMethodName()
                    + " streams open, the most allowed per identity (grpc.max-watch-streams-per-identity=" + max
                    + "); close one first";
            metrics.grpcRefused("max-watch-streams-per-identity");
            log.warn(key, "refused a " + method + " stream: " + reason);
            ChainAudit.closeAfter(audit.throttled("watch-cap", key, caller, method, reason), call,
                    Status.RESOURCE_EXHAUSTED.withDescription(reason));
            return new ServerCall.Listener<>() {
            };
        }
        AtomicBoolean released = new AtomicBoolean();
        Runnable release = () -> {
            if (released.compareAndSet(false, true)) {
                release(key);
            }
        };
        ServerCall<Q, R> releasingCall = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                release.run();
                super.close(status, trailers);
            }
        };
        try {
            return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
                    next.startCall(releasingCall, headers)) {
                @Override
                public void onCancel() {
                    release.run();
                    super.onCancel();
                }

                @Override
                public void onComplete() {
                    release.run();
                    super.onComplete();
                }
            };
        } catch (RuntimeException e) {
            release.run();
            throw e;
        }
    }

    private static String caller(ServerCall<?, ?> call) {
        try {
            return Callers.require().spiffeId().toString();
        } catch (StatusException noCertificate) {
            SocketAddress remote = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
            return remote instanceof InetSocketAddress inet ? "address " + inet.getAddress().getHostAddress()
                    : "address " + remote;
        }
    }

    private synchronized boolean acquire(String key) {
        int n = open.getOrDefault(key, 0);
        if (n >= max) {
            return false;
        }
        open.put(key, n + 1);
        return true;
    }

    private synchronized void release(String key) {
        open.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1);
    }
}
