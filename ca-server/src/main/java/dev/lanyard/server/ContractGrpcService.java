package dev.lanyard.server;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.contract.ContractRegistry;
import dev.lanyard.contract.InvalidContractException;
import dev.lanyard.contract.PublishResult;
import dev.lanyard.contract.ServiceContract;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.ListContractsRequest;
import dev.lanyard.v1.ListContractsResponse;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.PublishContractsResponse;
import io.grpc.stub.StreamObserver;
import java.time.Clock;

/** Publishing and listing the audience/scope contracts (admin only). */
public final class ContractGrpcService extends ContractServiceGrpc.ContractServiceImplBase {

    private final ContractRegistry registry;
    private final AuditLog audit;
    private final AuditedCall calls;

    public ContractGrpcService(ContractRegistry registry, AuditLog audit, Clock clock) {
        this.registry = registry;
        this.audit = audit;
        this.calls = new AuditedCall(audit, clock);
    }

    @Override
    public void publishContracts(PublishContractsRequest request, StreamObserver<PublishContractsResponse> response) {
        String source = request.getSource();
        // a source that is no source name, or holds a token, is never repeated: it may be a pasted secret
        boolean named = ContractRegistry.isSource(source) && !AuditText.holdsToken(source);
        String target = source.isEmpty() || named ? source : AuditText.invalid("source", source);
        calls.runRecording("contracts.publish", target, "", response, success -> {
            if (source.isBlank()) {
                throw AuditedCall.invalid("source is required: name the team or service the descriptor set comes from");
            }
            if (!ContractRegistry.isSource(source)) {
                throw AuditedCall.invalid(AuditText.unnamed("source", source) + " is not a source name: "
                        + ContractRegistry.SOURCE_RULE);
            }
            if (!named) {
                throw AuditedCall.invalid(AuditText.unnamed("source", source) + " holds a JWT or a join token:"
                        + " name the team or service the descriptor set comes from");
            }
            PublishResult result;
            try {
                // A new version is stored with its audit record; the same bytes again store the record alone.
                result = registry.publish(request.getSource(), request.getDescriptorSet().toByteArray(),
                        write -> audit.recordWith(success, write::getAsLong));
            } catch (InvalidContractException e) {
                throw AuditedCall.invalid(e.reason());
            }
            if (!result.changed()) {
                audit.record(success);
            }
            PublishContractsResponse.Builder b = PublishContractsResponse.newBuilder()
                    .setVersion(result.version()).addAllWarnings(result.warnings());
            result.services().forEach(s -> b.addContracts(s.toProto()));
            return b.build();
        });
    }

    @Override
    public void listContracts(ListContractsRequest request, StreamObserver<ListContractsResponse> response) {
        calls.run("contracts.list", "", response, this::snapshot);
    }

    /** Every contract with the registry's version, as {@code ListContracts} answers (the console shows it too). */
    public ListContractsResponse snapshot() {
        ListContractsResponse.Builder b = ListContractsResponse.newBuilder().setVersion(registry.version());
        for (ServiceContract contract : registry.all()) {
            b.addContracts(contract.toProto());
        }
        return b.build();
    }
}
