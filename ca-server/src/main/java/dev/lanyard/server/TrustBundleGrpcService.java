package dev.lanyard.server;

import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.security.cert.X509Certificate;
import java.time.Duration;

/** The trust bundle, for anyone: verifiers need it before they hold a certificate. */
public final class TrustBundleGrpcService extends TrustBundleServiceGrpc.TrustBundleServiceImplBase {

    private final String trustDomain;
    private final TrustAuthorities authorities;
    private final Duration refreshHint;

    public TrustBundleGrpcService(String trustDomain, TrustAuthorities authorities, Duration refreshHint) {
        this.trustDomain = trustDomain;
        this.authorities = authorities;
        this.refreshHint = refreshHint;
    }

    @Override
    public void getTrustBundle(GetTrustBundleRequest request, StreamObserver<TrustBundle> response) {
        TrustBundle.Builder b = TrustBundle.newBuilder()
                .setTrustDomain(trustDomain)
                .setSequence(authorities.sequence())
                .setRefreshHint(Protos.duration(refreshHint));
        for (X509Certificate root : authorities.roots()) {
            b.addX509Authorities(Protos.der(root));
        }
        response.onNext(b.build());
        response.onCompleted();
    }
}
