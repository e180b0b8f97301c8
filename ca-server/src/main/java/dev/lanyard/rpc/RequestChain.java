package dev.lanyard.rpc;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationRegistry;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
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
 * call a capability and answer; no call answers UNKNOWN.
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

    public RequestChain(ClientCertificateVerifier verifier, RevocationRegistry revocations, AccessPolicy access,
            Limits limits, AuditLog audit, LanyardMetrics metrics, Clock clock) {
        this.authentication = new Authentication(verifier);
        this.revocations = revocations;
        this.access = access;
        this.limits = new CallLimits(new CallLimits.Rates(limits.identityPerSecond(), limits.identityBurst(),
                limits.anonymousPerSecond(), limits.anonymousBurst()), clock);
        this.audit = new ChainAudit(audit, clock);
        this.metrics = metrics;
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
        GuardedCall<Q, R> guarded = new GuardedCall<>(call, method, actor, System.nanoTime());

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
        return new GuardedListener<>(Contexts.interceptCall(context, guarded, headers, next), guarded);
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
    private final class GuardedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
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

        /** Logs and audits an internal failure under a new correlation id; the status the caller gets. */
        Status failed(Throwable cause) {
            String reference = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
            LOG.error("internal error {} in {} for {}", reference, method, actor, cause);
            try {
                audit.failed(actor, method, "reference " + reference + ": " + cause.getClass().getSimpleName());
            } catch (RuntimeException e) {
                LOG.error("could not audit internal error {}", reference, e);
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
            guard(super::onCancel);
        }

        @Override
        public void onComplete() {
            guard(super::onComplete);
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
