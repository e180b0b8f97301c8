package dev.lanyard.rpc;

import dev.lanyard.audit.AuditLog;
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
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Caps the watch streams one caller holds open: at most {@code max} WatchRevocations and, separately,
 * {@code max} WatchTrustBundle streams per SPIFFE ID, or per source address for a caller without a
 * certificate. One more is refused with RESOURCE_EXHAUSTED naming the cap; a slot is freed when its
 * stream ends however it ends. Runs after the peer is identified (after the chain). Refusals are
 * audited as the chain's rate-limit refusals are: once per caller and minute, with a count.
 */
public final class WatchStreamCap implements ServerInterceptor {

    private static final Set<String> WATCHES = Set.of(
            RevocationServiceGrpc.getWatchRevocationsMethod().getFullMethodName(),
            TrustBundleServiceGrpc.getWatchTrustBundleMethod().getFullMethodName());

    private final int max;
    private final ChainAudit audit;
    private final Map<String, Integer> open = new HashMap<>();

    public WatchStreamCap(int max, AuditLog audit, Clock clock) {
        this.max = max;
        this.audit = new ChainAudit(audit, clock);
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
