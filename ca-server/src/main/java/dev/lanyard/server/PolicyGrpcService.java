package dev.lanyard.server;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.policy.GrantsPolicy;
import dev.lanyard.policy.InvalidPolicyException;
import dev.lanyard.policy.PolicyStore;
import dev.lanyard.policy.StalePolicyException;
import dev.lanyard.store.JdbcPolicyRepository;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.ApplyPolicyResponse;
import dev.lanyard.v1.GetPolicyRequest;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.rpc.Callers;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Clock;

/** Applying and reading the grants policy (admin only); applied policies are kept by version. */
public final class PolicyGrpcService extends PolicyServiceGrpc.PolicyServiceImplBase {

    private final PolicyStore store;
    private final JdbcPolicyRepository history;
    private final AuditLog audit;
    private final AuditedCall calls;
    private final Clock clock;
    private final Runnable applied;

    /**
     * @param applied runs after a policy is in force here, before the reply: what the policy needs at
     *                once (an external audience's key set, in the JWKS and discovery) is ready when
     *                the caller hears back, not at the next change-feed poll
     */
    public PolicyGrpcService(PolicyStore store, JdbcPolicyRepository history, AuditLog audit, Clock clock,
            Runnable applied) {
        this.store = store;
        this.history = history;
        this.audit = audit;
        this.calls = new AuditedCall(audit, clock);
        this.clock = clock;
        this.applied = applied;
    }

    @Override
    public void applyPolicy(ApplyPolicyRequest request, StreamObserver<ApplyPolicyResponse> response) {
        calls.runRecording("policy.apply", "version " + request.getPolicy().getVersion(), "", response, success -> {
            synchronized (store) {
                // The database first, with its audit record: a policy in force on this replica is one
                // every replica can load, and one the audit trail names.
                long version = request.getPolicy().getVersion();
                GrantsPolicy compiled;
                try {
                    compiled = GrantsPolicy.fromNew(request.getPolicy());
                } catch (InvalidPolicyException e) {
                    throw AuditedCall.invalid(e.getMessage());
                }
                long inForce = Math.max(store.current().version(), history.latestVersion());
                audit.recordWith(success, () -> {
                    if (version <= inForce || !history.save(request.getPolicy(),
                            Callers.require().spiffeId().toString(), clock.instant())) {
                        throw Status.FAILED_PRECONDITION.withDescription(new StalePolicyException(version,
                                Math.max(inForce, version)).getMessage()).asException();
                    }
                    return version;
                });
                try {
                    store.apply(compiled);
                } catch (StalePolicyException e) {
                    // a newer version from another replica got here first; it stays in force
                }
            }
            applied.run();
            return ApplyPolicyResponse.newBuilder().setVersion(request.getPolicy().getVersion()).build();
        });
    }

    @Override
    public void getPolicy(GetPolicyRequest request, StreamObserver<Policy> response) {
        calls.run("policy.get", "", response, () -> store.current().toProto());
    }
}
