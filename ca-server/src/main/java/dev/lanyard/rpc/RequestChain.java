package dev.lanyard.rpc;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.store.StoreException;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one request chain every gRPC call passes, in this order: authenticate the peer → refuse a
 * revoked certificate or identity → authorize → rate limit → bound every input → the handler →
 * audit (refusals of these steps, and FAILED for internal errors, which the caller sees as INTERNAL
 * with a correlation id the log and the audit record carry too) → metrics. Handlers only parse,
 * call a capability and answer; no call answers UNKNOWN. A streaming call stays under its caller's
 * watch while it runs: it is ended when its caller is revoked or its certificate expires.
 */
public final class RequestChain implements ServerInterceptor {

    private static final Logger LOG = LoggerFactory.getLogger(RequestChain.class);

    private final Authentication authentication;
    private final RevocationRegistry revocations;
    private final AccessPolicy access;
    private final CallLimits limits;
    private final InputBounds bounds = new InputBounds();
    private final ChainAudit audit;
    private final LanyardMetrics metrics;
    private final OpenCalls open;

    public RequestChain(ClientCertificateVerifier verifier, RevocationRegistry revocations, AccessPolicy access,
            Limits limits, AuditLog audit, LanyardMetrics metrics, Clock clock) {
        this.authentication = new Authentication(verifier);
        this.revocations = revocations;
        this.access = access;
        this.limits = new CallLimits(new CallLimits.Rates(limits.identityPerSecond(), limits.identityBurst(),
                limits.anonymousPerSecond(), limits.anonymousBurst()), clock);
        this.audit = new ChainAudit(audit, clock);
        this.metrics = metrics;
        this.open = new OpenCalls(revocations, clock);
    }

    /**
     * Ends every open streaming call whose caller has been revoked or whose certificate has expired.
     * The server runs it after every batch of revocations, once the revocation watchers were sent
     * that batch (so a revoked watcher hears of its own revocation before its stream ends), and
     * every second for expiry.
     */
    public void closeLapsedCalls() {
        open.sweep();
    }

    /** Streaming calls open now. */
    public int openCalls() {
        return open.size();
    }

    /** Call rates per identity, and per source address for calls without a certificate. */
    public record Limits(double identityPerSecond, int identityBurst, double anonymousPerSecond, int anonymousBurst) {
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        Object caller = authentication.identify(call);
        AuthenticatedPeer peer = caller instanceof AuthenticatedPeer p ? p : null;
        String actor = peer == null ? "anonymous" : peer.spiffeId().toString();
        // Only streams can outlive their caller's rights; a unary call is left to finish (and costs nothing here).
        boolean streaming = call.getMethodDescriptor().getType() != MethodDescriptor.MethodType.UNARY;
        GuardedCall<Q, R> guarded = peer != null && streaming
                ? new StreamingCall<>(call, method, peer, System.nanoTime())
                : new GuardedCall<>(call, method, actor, System.nanoTime());

        if (peer != null) {
            Optional<Revocation> revoked = revocations.refusalFor(peer.spiffeId(),
                    Optional.of(peer.serialHex()));
            if (revoked.isPresent()) {
                return refuse(guarded, "revoked", Status.PERMISSION_DENIED.withDescription(
                        revoked.get().refusalMessage()));
            }
        }
        Optional<Status> unauthorized = access.refusal(access.accessOf(method), caller);
        if (unauthorized.isPresent()) {
            return refuse(guarded, "authorize", unauthorized.get());
        }
        String source = source(call);
        String overLimit = limits.exceeded(peer, source);
        if (overLimit != null) {
            ChainAudit.closeAfter(audit.throttled(peer == null ? source : actor, actor, method, overLimit), guarded,
                    Status.RESOURCE_EXHAUSTED.withDescription(overLimit));
            return new ServerCall.Listener<>() {
            };
        }
        Context context = Context.current().withValue(Callers.PEER, caller);
        if (guarded instanceof StreamingCall<Q, R> stream) {
            open.add(stream);
        }
        try {
            return new GuardedListener<>(Contexts.interceptCall(context, guarded, headers, next), guarded);
        } catch (RuntimeException e) {
            guarded.forget(); // gRPC closes the stream itself: neither our close nor the listener will run
            throw e;
        }
    }

    private <Q> ServerCall.Listener<Q> refuse(GuardedCall<Q, ?> call, String step, Status status) {
        call.refused = true;
        ChainAudit.closeAfter(audit.refused(call.actor, step, call.method, status.getCode() + ": "
                + status.getDescription()), call, status);
        return new ServerCall.Listener<>() {
        };
    }

    private static String source(ServerCall<?, ?> call) {
        SocketAddress address = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return address instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress().getHostAddress() : String.valueOf(address);
    }

    /**
     * The call as the handler sees it: closed once, an UNKNOWN status (an exception the handler did
     * not map) becomes INTERNAL with a correlation id, and every close is measured.
     */
    private class GuardedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
        final String method;
        final String actor;
        final long startNanos;
        final AtomicBoolean closed = new AtomicBoolean();
        /** Refused by the chain, the answer waiting for its audit record: the handler must not see more. */
        volatile boolean refused;

        GuardedCall(ServerCall<Q, R> call, String method, String actor, long startNanos) {
            super(call);
            this.method = method;
            this.actor = actor;
            this.startNanos = startNanos;
        }

        @Override
        public void close(Status status, Metadata trailers) {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            Status answer = status;
            if (status.getCode() == Status.Code.UNKNOWN) {
                answer = failed(status.getCause() != null ? status.getCause()
                        : new IllegalStateException(String.valueOf(status.getDescription())));
            }
            super.close(answer, trailers);
            metrics.rpc(method, answer.getCode().name(), System.nanoTime() - startNanos);
        }

        /** Closed, or refused and about to be: no more of the call goes to the handler. */
        boolean answered() {
            return refused || closed.get();
        }

        /** The call is over, however it ended: nothing of it is kept. */
        void forget() {
        }

        /** Logs and audits an internal failure under a new correlation id; the status the caller gets. */
        Status failed(Throwable cause) {
            String reference = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
            LOG.error("internal error {} in {} for {}", reference, method, actor, cause);
            try {
                audit.failed(actor, method, "reference " + reference + ": " + cause.getClass().getSimpleName());
            } catch (RuntimeException e) {
                LOG.error("could not audit internal error {}", reference, e);
            }
            if (StoreException.isConnectionLost(cause)) {
                // PostgreSQL restarted or failed over: the pool reconnects, and a retry is served.
                return Status.UNAVAILABLE.withDescription("the connection to the database was lost; retry (reference "
                        + reference + " in the server log and audit trail)");
            }
            return Status.INTERNAL.withDescription("internal error; reference " + reference
                    + " (the server log and audit trail carry the same reference)");
        }

        void fail(RuntimeException e) {
            if (!closed.get()) {
                Status status = failed(e);
                if (closed.compareAndSet(false, true)) {
                    delegate().close(status, new Metadata());
                    metrics.rpc(method, status.getCode().name(), System.nanoTime() - startNanos);
                }
            }
        }
    }

    /**
     * A streaming call of an authenticated caller, kept in the open calls until it ends: the chain may
     * end it from another thread (a revocation, an expiry), so its sends and its close take turns, and
     * once it is ended the handler's further sends are dropped and it hears the call was cancelled.
     */
    private final class StreamingCall<Q, R> extends GuardedCall<Q, R> implements OpenCalls.Call {
        private final AuthenticatedPeer peer;
        private final AtomicBoolean ending = new AtomicBoolean();

        StreamingCall(ServerCall<Q, R> call, String method, AuthenticatedPeer peer, long startNanos) {
            super(call, method, peer.spiffeId().toString(), startNanos);
            this.peer = peer;
        }

        @Override
        public AuthenticatedPeer peer() {
            return peer;
        }

        @Override
        public void end(String step, Status status) {
            if (!answered() && ending.compareAndSet(false, true)) {
                refuse(this, step, status);
            }
        }

        @Override
        public synchronized void sendHeaders(Metadata headers) {
            if (!answered()) {
                super.sendHeaders(headers);
            }
        }

        @Override
        public synchronized void sendMessage(R message) {
            if (!answered()) {
                super.sendMessage(message);
            }
        }

        @Override
        public void close(Status status, Metadata trailers) {
            synchronized (this) {
                super.close(status, trailers);
            }
            open.remove(this);
        }

        @Override
        public boolean isCancelled() {
            return ending.get() || super.isCancelled();
        }

        @Override
        void forget() {
            open.remove(this);
        }
    }

    /** Bounds each request message and turns an exception escaping the handler into INTERNAL. */
    private final class GuardedListener<Q> extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
        private final GuardedCall<Q, ?> call;

        GuardedListener(ServerCall.Listener<Q> delegate, GuardedCall<Q, ?> call) {
            super(delegate);
            this.call = call;
        }

        @Override
        public void onMessage(Q message) {
            if (call.answered()) {
                return;
            }
            Optional<String> violation = bounds.violation(message);
            if (violation.isPresent()) {
                String type = message instanceof com.google.protobuf.Message m ? m.getDescriptorForType().getName() : "";
                refuse(call, "bounds", Status.INVALID_ARGUMENT.withDescription(type + "." + violation.get()));
                return;
            }
            guard(() -> super.onMessage(message));
        }

        @Override
        public void onHalfClose() {
            if (!call.answered()) {
                guard(super::onHalfClose);
            }
        }

        @Override
        public void onReady() {
            if (!call.answered()) {
                guard(super::onReady);
            }
        }

        @Override
        public void onCancel() {
            try {
                guard(super::onCancel);
            } finally {
                call.forget(); // after the handler and the interceptors inside the chain heard of it
            }
        }

        /** A call the chain ended under the handler is, to the handler, cancelled: its cancel handler runs. */
        @Override
        public void onComplete() {
            try {
                guard(call instanceof StreamingCall<?, ?> s && s.ending.get() ? super::onCancel : super::onComplete);
            } finally {
                call.forget();
            }
        }

        private void guard(Runnable step) {
            try {
                step.run();
            } catch (RuntimeException e) {
                call.fail(e);
            }
        }
    }
}
