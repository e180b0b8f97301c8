package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.rpc.AuthenticatedPeer;
import dev.lanyard.rpc.Callers;
import dev.lanyard.rpc.Replies;
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

    /** Runs on the network thread (see {@code CallExecutors}): nothing here blocks; the reply follows the commit. */
    @Override
    public void issueToken(IssueTokenRequest request, StreamObserver<IssueTokenResponse> response) {
        long start = System.nanoTime();
        AuthenticatedPeer peer;
        try {
            peer = Callers.require();
        } catch (StatusException e) {
            metrics.token(e.getStatus().getCode().name(), start, System.nanoTime());
            response.onError(e);
            return;
        }
        Replies.when(issuer.issueAsync(peer.spiffeId(), peer.bound(), request.getAudience(),
                        request.getScopesList(), Protos.duration(request.hasTtl(), request.getTtl())),
                response, token -> IssueTokenResponse.newBuilder()
                        .setToken(token.jwt())
                        .setTokenId(token.jti())
                        .setExpiresAt(Protos.timestamp(token.expiresAt()))
                        .setKeyId(token.kid())
                        .build(),
                code -> metrics.token(code, start, System.nanoTime()));
    }
}
