package dev.lanyard.server;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.contract.ContractRegistry;
import dev.lanyard.contract.TokenScopeCheck;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.policy.PolicyStore;
import dev.lanyard.registration.RegistrationRepository;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.svid.SvidIssuer;
import dev.lanyard.token.CertificateThumbprint;
import dev.lanyard.token.MintedToken;
import dev.lanyard.token.RateLimiter;
import dev.lanyard.token.TokenMinter;
import dev.lanyard.token.TokenRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.security.cert.CertificateEncodingException;
import java.time.Clock;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Mints tokens for authenticated workloads: the contract must declare every scope for the
 * audience (INVALID_ARGUMENT otherwise), the grants policy must give them to the caller
 * (PERMISSION_DENIED), and the caller may not mint faster than its rate limit (RESOURCE_EXHAUSTED).
 */
public final class TokenGrpcService extends TokenServiceGrpc.TokenServiceImplBase {

    private final TokenMinter minter;
    private final ContractRegistry contracts;
    private final PolicyStore policy;
    private final RegistrationRepository registrations;
    private final RateLimiter rateLimiter;
    private final RevocationRegistry revocations;
    private final LanyardMetrics metrics;
    private final AuditLog audit;
    private final Clock clock;

    public TokenGrpcService(TokenMinter minter, ContractRegistry contracts, PolicyStore policy,
            RegistrationRepository registrations, RateLimiter rateLimiter, RevocationRegistry revocations,
            LanyardMetrics metrics, AuditLog audit, Clock clock) {
        this.revocations = revocations;
        this.metrics = metrics;
        this.minter = minter;
        this.contracts = contracts;
        this.policy = policy;
        this.registrations = registrations;
        this.rateLimiter = rateLimiter;
        this.audit = audit;
        this.clock = clock;
    }

    @Override
    public void issueToken(IssueTokenRequest request, StreamObserver<IssueTokenResponse> response) {
        long start = System.nanoTime();
        String actor = "anonymous";
        String target = "audience " + request.getAudience();
        try {
            AuthenticatedPeer peer = PeerIdentityInterceptor.requirePeer();
            actor = peer.spiffeId().toString();
            Optional<Revocation> revoked = revocations.refusalFor(peer.spiffeId(),
                    Optional.of(peer.certificate().getSerialNumber().toString(16)));
            if (revoked.isPresent()) {
                throw Status.PERMISSION_DENIED.withDescription(SvidIssuer.revoked(revoked.get())).asException();
            }
            if (!rateLimiter.tryAcquire(actor)) {
                throw Status.RESOURCE_EXHAUSTED.withDescription(
                        actor + " is minting tokens faster than its rate limit; retry shortly").asException();
            }
            Set<String> scopes = new LinkedHashSet<>(request.getScopesList());
            TokenScopeCheck check = contracts.check(request.getAudience(), scopes);
            if (!check.ok()) {
                throw Status.INVALID_ARGUMENT.withDescription(check.reason()).asException();
            }
            Set<String> missing = policy.current().missingScopes(peer.spiffeId(), request.getAudience(), scopes);
            if (!missing.isEmpty()) {
                throw Status.PERMISSION_DENIED.withDescription(actor + " is not granted " + new TreeSet<>(missing)
                        + " on audience " + request.getAudience()).asException();
            }
            if (registrations.find(peer.spiffeId()).isEmpty()) {
                throw Status.PERMISSION_DENIED.withDescription(actor + " has no registration").asException();
            }
            MintedToken token;
            try {
                token = minter.mint(new TokenRequest(peer.spiffeId(), request.getAudience(), scopes,
                        Protos.duration(request.hasTtl(), request.getTtl()),
                        CertificateThumbprint.x5tS256(peer.certificate().getEncoded()),
                        peer.certificate().getNotAfter().toInstant()));
            } catch (IllegalArgumentException e) {
                throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
            } catch (CertificateEncodingException e) {
                throw Status.INTERNAL.withDescription("the caller's certificate cannot be encoded").asException();
            }
            audit.record(new AuditEvent(clock.instant(), actor, "token.issue", target + " jti " + token.jti()
                    + " scopes " + new TreeSet<>(scopes), AuditEvent.Outcome.SUCCESS, ""));
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
            audit.record(new AuditEvent(clock.instant(), actor, "token.issue", target, AuditEvent.Outcome.REFUSED,
                    e.getStatus().getCode() + ": " + e.getStatus().getDescription()));
            response.onError(e);
        }
    }
}
