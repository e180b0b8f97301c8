package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.rpc.AuthenticatedPeer;
import dev.lanyard.rpc.Callers;
import dev.lanyard.rpc.Statuses;
import dev.lanyard.token.MintedToken;
import dev.lanyard.token.TokenIssuer;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;

/** Tokens over gRPC: parse, call {@link TokenIssuer}, answer. */
public final class TokenGrpcService extends TokenServiceGrpc.TokenServiceImplBase {

    private final TokenIssuer issuer;
    private final LanyardMetrics metrics;

    public TokenGrpcService(TokenIssuer issuer, LanyardMetrics metrics) {
        this.issuer = issuer;
        this.metrics = metrics;
    }

    @Override
    public void issueToken(IssueTokenRequest request, StreamObserver<IssueTokenResponse> response) {
        long start = System.nanoTime();
        try {
            AuthenticatedPeer peer = Callers.require();
            MintedToken token = issuer.issue(peer.spiffeId(), peer.certificate(), request.getAudience(),
                    request.getScopesList(), Protos.duration(request.hasTtl(), request.getTtl()));
            response.onNext(IssueTokenResponse.newBuilder()
                    .setToken(token.jwt())
                    .setTokenId(token.jti())
                    .setExpiresAt(Protos.timestamp(token.expiresAt()))
                    .setKeyId(token.kid())
                    .build());
            response.onCompleted();
            metrics.token("", start, System.nanoTime());
        } catch (StatusException e) {
            metrics.token(e.getStatus().getCode().name(), start, System.nanoTime());
            response.onError(e);
        } catch (Refusal e) {
            metrics.token(Statuses.of(e).getCode().name(), start, System.nanoTime());
            response.onError(Statuses.exception(e));
        }
    }
}
