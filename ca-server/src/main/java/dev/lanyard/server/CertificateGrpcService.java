package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.ca.IssuedSvid;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.rpc.AuthenticatedPeer;
import dev.lanyard.rpc.Callers;
import dev.lanyard.rpc.Replies;
import dev.lanyard.rpc.Statuses;
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
    private final LanyardMetrics metrics;

    public CertificateGrpcService(SvidIssuer issuer, TrustAuthorities authorities, LanyardMetrics metrics) {
        this.issuer = issuer;
        this.authorities = authorities;
        this.metrics = metrics;
    }

    @Override
    public void issueCertificate(IssueCertificateRequest request, StreamObserver<CertificateResponse> response) {
        long start = System.nanoTime();
        try {
            IssuedSvid svid = issuer.bootstrap(request.getAttestation(), request.getCsr().toByteArray(),
                    Protos.duration(request.hasTtl(), request.getTtl()));
            response.onNext(toResponse(svid, authorities));
            response.onCompleted();
            metrics.certificate("bootstrap", "", start, System.nanoTime());
        } catch (Refusal e) {
            Status status = status(e);
            response.onError(status.asException());
            metrics.certificate("bootstrap", status.getCode().name(), start, System.nanoTime());
        }
    }

    /** Runs on the network thread (see {@code CallExecutors}): nothing here blocks; the reply follows the commit. */
    @Override
    public void renewCertificate(RenewCertificateRequest request, StreamObserver<CertificateResponse> response) {
        long start = System.nanoTime();
        AuthenticatedPeer peer;
        try {
            peer = Callers.require();
        } catch (StatusException e) {
            response.onError(e);
            metrics.certificate("renew", e.getStatus().getCode().name(), start, System.nanoTime());
            return;
        }
        Replies.when(issuer.renewAsync(peer.spiffeId(), peer.serialHex(),
                        request.getCsr().toByteArray(), Protos.duration(request.hasTtl(), request.getTtl())),
                response, svid -> toResponse(svid, authorities),
                code -> metrics.certificate("renew", code, start, System.nanoTime()));
    }

    static CertificateResponse toResponse(IssuedSvid svid, TrustAuthorities authorities) {
        CertificateResponse.Builder b = CertificateResponse.newBuilder()
                .setSpiffeId(svid.spiffeId().toString())
                .setCertificate(com.google.protobuf.UnsafeByteOperations.unsafeWrap(svid.der())) // der() is a copy of its own
                .setSerialNumber(svid.serialHex())
                .setExpiresAt(Protos.timestamp(svid.notAfter()));
        for (X509Certificate intermediate : svid.chain()) {
            b.addChain(Protos.der(intermediate));
        }
        for (X509Certificate root : authorities.roots()) {
            b.addTrustBundle(Protos.der(root));
        }
        return b.build();
    }

    private static Status status(Refusal e) {
        return Statuses.of(e);
    }
}
