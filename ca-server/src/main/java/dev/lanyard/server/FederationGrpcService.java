package dev.lanyard.server;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.federation.Federation;
import dev.lanyard.federation.FederationRelationship;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.rpc.Protos;
import dev.lanyard.rpc.Statuses;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.FederationServiceGrpc;
import dev.lanyard.v1.ListFederationsRequest;
import dev.lanyard.v1.ListFederationsResponse;
import dev.lanyard.v1.RemoveFederationRequest;
import dev.lanyard.v1.RemoveFederationResponse;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.util.Optional;

/** `lanyard federation add|list|remove`: admin only, every call audited. */
public final class FederationGrpcService extends FederationServiceGrpc.FederationServiceImplBase {

    private final Federation federation;
    private final AuditedCall calls;

    public FederationGrpcService(Federation federation, AuditLog audit, Clock clock) {
        this.federation = federation;
        this.calls = new AuditedCall(audit, clock);
    }

    @Override
    public void addFederation(AddFederationRequest request, StreamObserver<dev.lanyard.v1.Federation> response) {
        String target = AuditText.trustDomain(request.getTrustDomain());
        // the URL is in the record only on success, once it parsed
        calls.runRecording("federation.add", target, request.getBundleEndpointUrl() + " "
                + request.getProfile(), response, success -> {
                    FederationRelationship.Profile profile = switch (request.getProfile()) {
                        case HTTPS_WEB -> FederationRelationship.Profile.HTTPS_WEB;
                        case HTTPS_SPIFFE -> FederationRelationship.Profile.HTTPS_SPIFFE;
                        default -> throw AuditedCall.invalid("profile must be HTTPS_WEB or HTTPS_SPIFFE");
                    };
                    try {
                        return toProto(federation.add(request.getTrustDomain(), request.getBundleEndpointUrl(), profile,
                                optional(request.getEndpointSpiffeId()), optional(request.getInitialBundle()), success));
                    } catch (Refusal e) {
                        throw Statuses.exception(e);
                    }
                });
    }

    @Override
    public void listFederations(ListFederationsRequest request, StreamObserver<ListFederationsResponse> response) {
        calls.run("federation.list", "", response, () -> {
            ListFederationsResponse.Builder list = ListFederationsResponse.newBuilder();
            federation.list().forEach(state -> list.addFederations(toProto(state)));
            return list.build();
        });
    }

    @Override
    public void removeFederation(RemoveFederationRequest request, StreamObserver<RemoveFederationResponse> response) {
        String target = AuditText.trustDomain(request.getTrustDomain());
        calls.runRecording("federation.remove", target, "", response, success -> {
            try {
                federation.remove(request.getTrustDomain(), success);
            } catch (Refusal e) {
                throw Statuses.exception(e);
            }
            return RemoveFederationResponse.getDefaultInstance();
        });
    }

    private static Optional<String> optional(String value) {
        return value.isEmpty() ? Optional.empty() : Optional.of(value);
    }

    private static dev.lanyard.v1.Federation toProto(Federation.State state) {
        FederationRelationship r = state.relationship();
        dev.lanyard.v1.Federation.Builder b = dev.lanyard.v1.Federation.newBuilder()
                .setTrustDomain(r.trustDomain())
                .setBundleEndpointUrl(r.endpoint().toString())
                .setProfile(r.profile() == FederationRelationship.Profile.HTTPS_WEB ? BundleEndpointProfile.HTTPS_WEB
                        : BundleEndpointProfile.HTTPS_SPIFFE)
                .setEndpointSpiffeId(r.endpointId().map(SpiffeId::toString).orElse(""))
                .setLastError(state.lastError());
        state.bundle().ifPresent(bundle -> b.setBundleSequence(bundle.sequence())
                .setRefreshHint(Protos.duration(bundle.refreshHint())));
        state.fetchedAt().ifPresent(at -> b.setBundleFetchedAt(Protos.timestamp(at)));
        return b.build();
    }
}
