package dev.lanyard.revocation;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.refusal.Refusal.Code;
import dev.lanyard.revocation.RevocationRepository.NewRevocation;
import dev.lanyard.revocation.RevocationRepository.Outcome;
import dev.lanyard.spiffe.SpiffeId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Carries out revocations and reinstatements: resolves what a target covers, writes it durably in
 * one transaction with its audit record (no crash keeps one without the other), then brings the
 * in-memory registry (and through its listeners watchers and the CRLs) up to date before
 * returning, so the caller's next request already sees it. Watchers hear of nothing that was not
 * committed.
 */
public final class Revoker {

    /** How far a verifier's clock may run behind: a token's revocation is kept this long past its expiry. */
    private static final Duration VERIFIER_SKEW = Duration.ofMinutes(5);

    /** The longest note an admin may attach. */
    public static final int MAX_NOTE = 1_024;

    /** The result of a revocation: the one asked for, and the certificates revoked with an identity. */
    public record Result(Revocation revocation, boolean created, List<String> revokedSerials, int revokedTokens,
            int joinTokensVoided) {
        public Result {
            revokedSerials = List.copyOf(revokedSerials);
        }
    }

    private final String trustDomain;
    private final IssuedCertificateRepository issued;
    private final RevocationRepository repository;
    private final RevocationRegistry registry;
    private final Duration tokenLifetimeBound;
    private final AuditLog audit;
    private final Clock clock;

    /**
     * @param tokenLifetimeBound no token lives longer than this after it is minted (max TTL plus
     *                           verifier skew): a revoked jti is remembered that long
     */
    public Revoker(String trustDomain, IssuedCertificateRepository issued, RevocationRepository repository,
            RevocationRegistry registry, Duration tokenLifetimeBound, AuditLog audit, Clock clock) {
        this.trustDomain = trustDomain;
        this.issued = issued;
        this.repository = repository;
        this.registry = registry;
        this.tokenLifetimeBound = tokenLifetimeBound;
        this.audit = audit;
        this.clock = clock;
    }

    /**
     * Revokes {@code target} and stores {@code record} (its audit record, whose actor revokes) in the
     * same transaction. With {@code force}, an identity that was never registered and holds no
     * certificate is revoked too (it is refused otherwise).
     */
    public Result revoke(RevocationTarget target, RevocationReason reason, String note, boolean force,
            AuditEvent record) throws Refusal {
        checkNote(note);
        Result result = audit.recordWith(record, () -> store(target, reason, note, record.actor(), force));
        registry.catchUp(); // the registry's listeners (watchers, CRLs) are up to date when this returns
        return result;
    }

    private Result store(RevocationTarget target, RevocationReason reason, String note, String actor, boolean force)
            throws Refusal {
        Instant now = clock.instant();
        return switch (target.kind()) {
            case SERIAL -> {
                IssuedCertificateRecord certificate = issued.findBySerial(target.value()).orElseThrow(
                        () -> new Refusal(Code.NOT_FOUND,
                                "no certificate with serial " + target.value() + " was issued by this server"));
                if (!certificate.notAfter().isAfter(now)) {
                    throw new Refusal(Code.FAILED_PRECONDITION, "certificate " + target.value()
                            + " expired at " + certificate.notAfter() + "; there is nothing left to revoke");
                }
                Outcome outcome = repository.revoke(List.of(certificateRevocation(certificate, reason, note, now, actor)))
                        .get(0);
                yield new Result(outcome.revocation(), outcome.created(), List.of(), 0, 0);
            }
            case SPIFFE_ID -> {
                SpiffeId id = spiffeId(target.value());
                RevocationRepository.IdentityOutcome outcome;
                try {
                    outcome = repository.revokeIdentity(new NewRevocation(target, reason, note, now, actor,
                            id.toString(), "", Optional.empty()), VERIFIER_SKEW, force);
                } catch (RefusedInTransaction e) {
                    throw e.refusal();
                }
                yield new Result(outcome.identity().revocation(), outcome.identity().created(),
                        outcome.certificates().stream().map(o -> o.revocation().target().value()).toList(),
                        outcome.tokens().size(), outcome.joinTokensVoided());
            }
            case JTI -> {
                Outcome outcome = repository.revoke(List.of(new NewRevocation(target, reason, note, now, actor, "", "",
                        Optional.of(now.plus(tokenLifetimeBound))))).get(0);
                yield new Result(outcome.revocation(), outcome.created(), List.of(), 0, 0);
            }
        };
    }

    /**
     * Lifts an identity revocation, stored with {@code record} (whose actor reinstates); its revoked
     * certificates and tokens stay revoked.
     */
    public RevocationEvent.Reinstated reinstate(String spiffeId, String note, AuditEvent record) throws Refusal {
        checkNote(note);
        SpiffeId id = spiffeId(spiffeId);
        RevocationEvent.Reinstated reinstated = audit.recordWith(record, () -> repository.reinstate(id.toString(),
                clock.instant(), record.actor(), note).orElseThrow(() -> new Refusal(Code.NOT_FOUND, id + " is not revoked")));
        registry.catchUp();
        return reinstated;
    }

    private static NewRevocation certificateRevocation(IssuedCertificateRecord certificate, RevocationReason reason,
            String note, Instant now, String actor) {
        return new NewRevocation(RevocationTarget.serial(certificate.serialHex()), reason, note, now, actor,
                certificate.spiffeId().toString(), certificate.issuerKeyId(), Optional.of(certificate.notAfter()));
    }

    private SpiffeId spiffeId(String value) throws Refusal {
        SpiffeId id;
        try {
            id = AuditText.parseSpiffeId("spiffe_id", value);
        } catch (IllegalArgumentException e) {
            throw new Refusal(Code.INVALID_ARGUMENT, e.getMessage());
        }
        if (!id.trustDomain().equals(trustDomain)) {
            throw new Refusal(Code.INVALID_ARGUMENT,
                    id + " is not in this server's trust domain " + trustDomain);
        }
        return id;
    }

    /** Refuses a note too long, with control characters, or holding a token; the console asks before it confirms. */
    public static void checkNote(String note) throws Refusal {
        if (note.length() > MAX_NOTE) {
            throw new Refusal(Code.INVALID_ARGUMENT, "the note is longer than " + MAX_NOTE + " characters");
        }
        if (note.chars().anyMatch(c -> Character.isISOControl(c) && c != '\n' && c != '\t')) {
            throw new Refusal(Code.INVALID_ARGUMENT, "the note contains control characters");
        }
        if (AuditText.holdsToken(note)) {
            throw new Refusal(Code.INVALID_ARGUMENT, "the note holds a JWT or a join token, which no record may keep;"
                    + " leave it out");
        }
    }
}
