package dev.lanyard.revocation;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The durable revocation log. Each write is one transaction, durable before it returns. */
public interface RevocationRepository {

    /** A revocation to record; the repository gives it its sequence. */
    record NewRevocation(RevocationTarget target, RevocationReason reason, String note, Instant revokedAt,
            String revokedBy, String spiffeId, String issuerKeyId, Optional<Instant> expiresAt, String trustDomain) {

        /** One of this server's own. */
        public NewRevocation(RevocationTarget target, RevocationReason reason, String note, Instant revokedAt,
                String revokedBy, String spiffeId, String issuerKeyId, Optional<Instant> expiresAt) {
            this(target, reason, note, revokedAt, revokedBy, spiffeId, issuerKeyId, expiresAt, "");
        }
    }

    /** What {@link #revoke} did for one target: the revocation in force, and whether it is new. */
    record Outcome(Revocation revocation, boolean created) {
    }

    /**
     * Records each revocation whose target is not revoked already by its trust domain (this server's
     * own: ''), all in one transaction, and returns, in order, the revocation in force for each.
     */
    List<Outcome> revoke(List<NewRevocation> revocations);

    /** What {@link #revokeIdentity} did: the identity's revocation, its certificates' and tokens', and join tokens voided. */
    record IdentityOutcome(Outcome identity, List<Outcome> certificates, List<Outcome> tokens, int joinTokensVoided) {
        public IdentityOutcome {
            certificates = List.copyOf(certificates);
            tokens = List.copyOf(tokens);
        }
    }

    /**
     * Revokes an identity and, in the same transaction, ordered with its issuance (the registration
     * row is locked first), every certificate and token of it that has not expired, and deletes its
     * unused join tokens. A certificate or token being recorded at the same time either committed
     * first, and is revoked here, or is refused. Throws a
     * {@link dev.lanyard.refusal.RefusedInTransaction} (NOT_FOUND) for an identity that was never
     * registered and holds no certificate.
     *
     * @param tokenSkew how long past its expiry a token's revocation is kept (verifier clock skew)
     */
    IdentityOutcome revokeIdentity(NewRevocation identity, Duration tokenSkew, boolean force);

    /** Lifts an identity revocation; empty when the identity was not revoked. */
    Optional<RevocationEvent.Reinstated> reinstate(String spiffeId, Instant at, String by, String note);

    /** What {@link #importFederated} changed. */
    record Imported(int revoked, int reinstated) {
    }

    /**
     * Brings what is held here of a federated trust domain's revocations to what it lists now, in one
     * transaction: records each listed one it does not hold yet (tagged with {@code trustDomain}; another
     * trust domain's revocation of the same serial or jti is another revocation), and lifts
     * the identity revocations of that trust domain it no longer lists. A serial this server issued
     * or a token id it minted is never taken from another trust domain. Refused as a whole
     * ({@link IllegalStateException}, nothing stored) when the serial and token revocations of that
     * trust domain in force here at {@code at}, with those listed, would be more than {@code maxHeld}, and
     * as {@link OlderThanApplied} when {@code sequence}, the document's, is older than one applied before.
     * The document's sequence is kept with the trust domain's federation relationship (none is kept for a
     * trust domain without one).
     */
    Imported importFederated(String trustDomain, long sequence, List<NewRevocation> listed, int maxHeld, Instant at,
            String actor);

    /**
     * Notes that {@code trustDomain}'s document of {@code sequence} was applied and changed nothing here,
     * so that an older copy is refused as {@link OlderThanApplied} all the same; a lower sequence than
     * the one noted is ignored.
     */
    void noteFederatedSequence(String trustDomain, long sequence);

    /**
     * A federated trust domain's document older (by its sequence) than one already applied, on this
     * replica or another, before or since a restart: a stale copy, which would lift what the newer one
     * revoked. Nothing of it is stored.
     */
    final class OlderThanApplied extends IllegalStateException {
        private static final long serialVersionUID = 1L;
        private final long offered;
        private final long applied;

        public OlderThanApplied(long offered, long applied) {
            super("sequence " + offered + " is older than the " + applied + " applied");
            this.offered = offered;
            this.applied = applied;
        }

        public long offered() {
            return offered;
        }

        public long applied() {
            return applied;
        }
    }

    /** Events with a sequence above {@code sequence}, oldest first, at most {@code limit}. */
    List<RevocationEvent> eventsAfter(long sequence, int limit);

    /**
     * The newest sequence this store has handed out (its head), read from the database: also one written
     * by another replica, one whose event has been pruned, and a restored store's floor, which no event holds.
     */
    long lastSequence();

    /**
     * Forgets revocations (and their events) whose certificate or token expired before {@code now}:
     * they can never matter again. Reinstatements and identity revocations are kept.
     */
    int pruneExpired(Instant now);

    /**
     * The next CRL number for an issuing CA, durably (never handed out twice, also across replicas),
     * and at least {@code atLeast}: a store restored from a backup continues from the backup's last
     * number, lower than those the lost server went on to publish, so the caller passes a floor that
     * time moves past them (the epoch second).
     */
    long nextCrlNumber(String issuerKeyId, long atLeast);
}
