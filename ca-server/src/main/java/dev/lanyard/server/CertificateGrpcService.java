package dev.lanyard.server;

import dev.lanyard.ca.IssuedSvid;
import dev.lanyard.svid.IssuanceRefusedException;
import dev.lanyard.svid.SvidIssuer;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.RenewCertificateRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.security.cert.X509Certificate;

/** Bootstrap and renewal over gRPC: parse, call {@link SvidIssuer}, map refusals to statuses. */
public final class CertificateGrpcService extends CertificateServiceGrpc.CertificateServiceImplBase {

    private final SvidIssuer issuer;
    private final TrustAuthorities authorities;

    public CertificateGrpcService(SvidIssuer issuer, TrustAuthorities authorities) {
        this.issuer = issuer;
        this.authorities = authorities;
    }

    @Override
    public void issueCertificate(IssueCertificateRequest request, StreamObserver<CertificateResponse> response) {
        try {
            IssuedSvid svid = issuer.bootstrap(request.getAttestation(), request.getCsr().toByteArray(),
                    Protos.duration(request.hasTtl(), request.getTtl()));
            response.onNext(toResponse(svid));
            response.onCompleted();
        } catch (IssuanceRefusedException e) {
            response.onError(status(e).asException());
        }
    }

    @Override
    public void renewCertificate(RenewCertificateRequest request, StreamObserver<CertificateResponse> response) {
        try {
            AuthenticatedPeer peer = PeerIdentityInterceptor.requirePeer();
            IssuedSvid svid = issuer.renew(peer.spiffeId(), peer.certificate().getSerialNumber().toString(16),
                    request.getCsr().toByteArray(),
                    Protos.duration(request.hasTtl(), request.getTtl()));
            response.onNext(toResponse(svid));
            response.onCompleted();
        } catch (StatusException e) {
            response.onError(e);
        } catch (IssuanceRefusedException e) {
            response.onError(status(e).asException());
        }
    }

    private CertificateResponse toResponse(IssuedSvid svid) {
        CertificateResponse.Builder b = CertificateResponse.newBuilder()
                .setSpiffeId(svid.spiffeId().toString())
                .setCertificate(Protos.der(svid.certificate()))
                .setSerialNumber(svid.serialHex())
                .setExpiresAt(Protos.timestamp(svid.certificate().getNotAfter().toInstant()));
        for (X509Certificate intermediate : svid.chain()) {
            b.addChain(Protos.der(intermediate));
        }
        for (X509Certificate root : authorities.roots()) {
            b.addTrustBundle(Protos.der(root));
        }
        return b.build();
    }

    static Status status(IssuanceRefusedException e) {
        Status status = switch (e.code()) {
            case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
            case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
        };
        return status.withDescription(e.getMessage());
    }
}
