package dev.lanyard.token;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.contract.ContractNames;
import dev.lanyard.contract.ContractRegistry;
import dev.lanyard.contract.TokenScopeCheck;
import dev.lanyard.policy.GrantsPolicy;
import dev.lanyard.policy.PolicyStore;
import dev.lanyard.refusal.Pending;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.spiffe.SpiffeId;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Mints tokens for authenticated workloads: the contract must declare every scope for the audience
 * (INVALID_ARGUMENT otherwise), the grants policy must give them to the caller (PERMISSION_DENIED),
 * the caller must be registered and unrevoked, and may not mint faster than its token rate
 * (RESOURCE_EXHAUSTED). Every outcome is audited; a minted token is recorded with its audit record,
 * ordered with revocations of its identity.
 */
public final class TokenIssuer {

    private final TokenMinter minter;
    private final ContractRegistry contracts;
    private final PolicyStore policy;
    private final RateLimiter rateLimiter;
    private final RevocationRegistry revocations;
    private final MintedTokenRepository minted;
    private final AuditLog audit;
    private final Clock clock;
    private final Function<SigningAlgorithm, JwtSigningKeys.ActiveSigner> externalSigners;

    /**
     * @param externalSigners the active key of an algorithm an external audience is signed with (its
     *                        key set is made on first use)
     */
    public TokenIssuer(TokenMinter minter, ContractRegistry contracts, PolicyStore policy,
            RateLimiter rateLimiter, RevocationRegistry revocations,
            MintedTokenRepository minted, AuditLog audit, Clock clock,
            Function<SigningAlgorithm, JwtSigningKeys.ActiveSigner> externalSigners) {
        this.externalSigners = externalSigners;
        this.minter = minter;
        this.contracts = contracts;
        this.policy = policy;
        this.rateLimiter = rateLimiter;
        this.revocations = revocations;
        this.minted = minted;
        this.audit = audit;
        this.clock = clock;
    }

    /** The {@code iss} of the tokens issued here (the minter's: the server's public URL). */
    public String issuer() {
        return minter.issuer();
    }

    /**
     * A token for {@code caller}, bound to the certificate it called with, without blocking: the checks
     * and the signature run on this thread; the future completes once the token's record and its audit
     * record are committed, or with the {@link Refusal} once that is audited.
     */
    public CompletableFuture<MintedToken> issueAsync(SpiffeId caller, BoundCertificate certificate, String audience,
            List<String> requestedScopes, Optional<Duration> ttl) {
        return audit.preparing(() -> issue(caller.toString(), caller, certificate, List.of(), audience,
                requestedScopes, ttl));
    }

    /**
     * A token for a workload a node agent serves, bound to the workload's current certificate that the
     * agent holds; the same rules as for the workload itself, audited with the agent as actor. No
     * requested scopes means every scope the policy grants the workload on the audience that its
     * contract declares (the Workload API asks for an audience only). Refused, in the transaction that
     * records it, if the agent's certificate ({@code agentSerialHex}) or identity was revoked meanwhile.
     */
    public MintedToken issueForAgent(SpiffeId agent, String agentSerialHex, SpiffeId workload, X509Certificate certificate, String audience,
            List<String> requestedScopes, Optional<Duration> ttl) throws Refusal {
        List<String> scopes = requestedScopes;
        if (scopes.isEmpty()) {
            scopes = policy.current().grantedScopes(workload, audience).stream()
                    .filter(scope -> contracts.check(audience, Set.of(scope)).ok()).toList();
            if (scopes.isEmpty() && contracts.check(audience, Set.of()).outcome()
                    != dev.lanyard.contract.TokenScopeCheck.Outcome.UNKNOWN_AUDIENCE) {
                Refusal refused = Refusal.denied(workload + " is granted no scope on audience " + audience);
                audit.record(refusal(agent.toString(), "audience " + audience + " for " + workload, refused));
                throw refused;
            }
        }
        return Pending.await(issue(agent.toString(), workload, BoundCertificate.of(certificate), List.of(agentSerialHex),
                audience, scopes, ttl));
    }

    /** @param actingFor the serials of certificates the request also rests on: a node agent's */
    private CompletableFuture<MintedToken> issue(String actor, SpiffeId caller, BoundCertificate certificate,
            List<String> actingFor, String audience, List<String> requestedScopes, Optional<Duration> ttl) {
        String target = named(audience) + (actor.equals(caller.toString()) ? "" : " for " + caller);
        MintedToken token;
        Set<String> scopes = new LinkedHashSet<>(requestedScopes);
        String serial = certificate.serialHex();
        try {
            checkNames(audience, requestedScopes);
            Optional<Revocation> revoked = revocations.refusalFor(caller, Optional.of(serial));
            if (revoked.isPresent()) {
                throw Refusal.denied(revoked.get().refusalMessage());
            }
            if (!rateLimiter.tryAcquire(caller.toString())) {
                throw new Refusal(Refusal.Code.RESOURCE_EXHAUSTED,
                        caller + " is minting tokens faster than its rate limit; retry shortly");
            }
            Optional<GrantsPolicy.External> external = policy.current().external(audience);
            if (external.isPresent()) {
                checkExternal(caller, external.get(), scopes);
            } else {
                TokenScopeCheck check = contracts.check(audience, scopes);
                if (!check.ok()) {
                    throw Refusal.invalid(check.reason());
                }
                Set<String> missing = policy.current().missingScopes(caller, audience, scopes);
                if (!missing.isEmpty()) {
                    throw Refusal.denied(caller + " is not granted " + new TreeSet<>(missing) + " on audience "
                            + audience);
                }
            }
            token = mint(caller, certificate, audience, scopes, ttl, external);
        } catch (Refusal e) {
            return refused(actor, target, e);
        }
        return Pending.orIfRefused(minted.record(token.jti(), caller, token.expiresAt(), new AuditEvent(clock.instant(),
                actor, "token.issue", target + " jti " + token.jti() + " scopes " + new TreeSet<>(scopes),
                AuditEvent.Outcome.SUCCESS, ""), presented(serial, actingFor)).thenApply(recorded -> token),
                e -> refused(actor, target, e.refusal()));
    }

    /** The audience as the audit target names it: only a well-formed one (it may be a pasted secret). */
    private static String named(String audience) {
        return audience.isEmpty() || ContractNames.audienceProblem(audience).isEmpty() ? "audience " + audience
                : AuditText.invalid("audience", audience);
    }

    /**
     * Refuses an audience or scope that is not even a well-formed name, by its length only: it may be a
     * secret pasted into the wrong field, and no contract or policy can know it anyway.
     */
    private static void checkNames(String audience, List<String> scopes) throws Refusal {
        if (!audience.isEmpty() && ContractNames.audienceProblem(audience).isPresent()) {
            throw Refusal.invalid(AuditText.unnamed("audience", audience) + " is not an audience: a SPIFFE ID or"
                    + " a name of lower-case letters, digits, '.', '-' and '_'");
        }
        for (int i = 0; i < scopes.size(); i++) {
            // the rule of new contracts and policies: a name no client verifier accepts makes a useless token
            Optional<String> problem = ContractNames.unverifiableScope("scopes[" + i + "]", scopes.get(i));
            if (problem.isPresent()) {
                throw Refusal.invalid(problem.get());
            }
        }
    }

    private static List<String> presented(String serial, List<String> actingFor) {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(serial), actingFor.stream()).toList();
    }

    /** Fails with {@code e} once its audit record is durable. */
    private <T> CompletableFuture<T> refused(String actor, String target, Refusal e) {
        return audit.recordAsync(refusal(actor, target, e)).thenCompose(recorded -> CompletableFuture.failedFuture(e));
    }

    private AuditEvent refusal(String actor, String target, Refusal e) {
        return new AuditEvent(clock.instant(), actor, "token.issue", target, AuditEvent.Outcome.REFUSED,
                e.code() + ": " + e.getMessage());
    }

    /** An external audience takes no scopes (it has no contract) and names who may get its tokens. */
    private static void checkExternal(SpiffeId caller, GrantsPolicy.External external, Set<String> scopes)
            throws Refusal {
        if (!scopes.isEmpty()) {
            throw Refusal.invalid("audience " + external.audience() + " is an external audience: it takes no scopes,"
                    + " ask again without them");
        }
        if (!external.allows(caller)) {
            throw Refusal.denied(caller + " may not get tokens for the external audience " + external.audience()
                    + " (the policy's external_audiences entry does not name it)");
        }
    }

    private MintedToken mint(SpiffeId caller, BoundCertificate certificate, String audience, Set<String> scopes,
            Optional<Duration> ttl, Optional<GrantsPolicy.External> external) throws Refusal {
        try {
            TokenRequest request = new TokenRequest(caller, audience, scopes, ttl, certificate.x5tS256(),
                    certificate.notAfter());
            if (external.isPresent()) {
                return minter.mintExternal(request, externalSigners.apply(external.get().algorithm()),
                        external.get().maxTtl());
            }
            return minter.mint(request);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid(e.getMessage());
        }
    }
}
