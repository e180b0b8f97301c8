package dev.lanyard.server;

import dev.lanyard.audit.AuditLog;
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
import dev.lanyard.rpc.Callers;
import io.grpc.stub.StreamObserver;
import java.time.Clock;

/** Applying and reading the grants policy (admin only); applied policies are kept by version. */
public final class PolicyGrpcService extends PolicyServiceGrpc.PolicyServiceImplBase {

    private final PolicyStore store;
    private final JdbcPolicyRepository history;
    private final AuditedCall calls;
    private final Clock clock;

    public PolicyGrpcService(PolicyStore store, JdbcPolicyRepository history, AuditLog audit, Clock clock) {
        this.store = store;
        this.history = history;
        this.calls = new AuditedCall(audit, clock);
        this.clock = clock;
    }

    @Override
    public void applyPolicy(ApplyPolicyRequest request, StreamObserver<ApplyPolicyResponse> response) {
        calls.run("policy.apply", "version " + request.getPolicy().getVersion(), response, () -> {
            synchronized (store) {
                try {
                    store.apply(request.getPolicy());
                } catch (InvalidPolicyException e) {
                    throw AuditedCall.invalid(e.getMessage());
                } catch (StalePolicyException e) {
                    throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asException();
                }
                history.save(request.getPolicy(), Callers.require().spiffeId().toString(),
                        clock.instant());
            }
            return ApplyPolicyResponse.newBuilder().setVersion(request.getPolicy().getVersion()).build();
        });
    }

    @Override
    public void getPolicy(GetPolicyRequest request, StreamObserver<Policy> response) {
        calls.run("policy.get", "", response, () -> store.current().toProto());
    }
}
