package dev.lanyard.server;

import dev.lanyard.bundle.TrustBundles;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import dev.lanyard.v1.WatchTrustBundleRequest;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/** The trust bundle, for anyone: verifiers need it before they hold a certificate. */
public final class TrustBundleGrpcService extends TrustBundleServiceGrpc.TrustBundleServiceImplBase {

    private final TrustBundles bundles;

    public TrustBundleGrpcService(TrustBundles bundles) {
        this.bundles = bundles;
    }

    @Override
    public void getTrustBundle(GetTrustBundleRequest request, StreamObserver<TrustBundle> response) {
        response.onNext(bundles.current().proto());
        response.onCompleted();
    }

    @Override
    public void watchTrustBundle(WatchTrustBundleRequest request, StreamObserver<TrustBundle> response) {
        bundles.watch((ServerCallStreamObserver<TrustBundle>) response);
    }
}
