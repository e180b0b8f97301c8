package dev.lanyard.server;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.spiffe.SpiffeId;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusException;
import java.time.Clock;
import java.util.Set;

/**
 * Lets only the configured admin SPIFFE IDs call the service it wraps; every refusal is audited.
 * Runs inside {@link PeerIdentityInterceptor}, which has put the verified caller in the context.
 */
public final class AdminInterceptor implements ServerInterceptor {

    private final Set<SpiffeId> admins;
    private final AuditLog audit;
    private final Clock clock;

    public AdminInterceptor(Set<SpiffeId> admins, AuditLog audit, Clock clock) {
        this.admins = Set.copyOf(admins);
        this.audit = audit;
        this.clock = clock;
    }

    /** This interceptor for every method of a service but {@code open}, which any authenticated caller may use. */
    public ServerInterceptor except(io.grpc.MethodDescriptor<?, ?> open) {
        AdminInterceptor admin = this;
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                return call.getMethodDescriptor().getFullMethodName().equals(open.getFullMethodName())
                        ? next.startCall(call, headers)
                        : admin.interceptCall(call, headers, next);
            }
        };
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        Status refusal;
        String actor = "anonymous";
        try {
            AuthenticatedPeer peer = PeerIdentityInterceptor.requirePeer();
            actor = peer.spiffeId().toString();
            if (admins.contains(peer.spiffeId())) {
                return next.startCall(call, headers);
            }
            refusal = Status.PERMISSION_DENIED.withDescription(peer.spiffeId() + " is not an admin of this server");
        } catch (StatusException e) {
            refusal = e.getStatus();
        }
        audit.record(new AuditEvent(clock.instant(), actor, "admin.call", method, AuditEvent.Outcome.REFUSED,
                refusal.getCode() + ": " + refusal.getDescription()));
        call.close(refusal, new Metadata());
        return new ServerCall.Listener<>() {
        };
    }
}
