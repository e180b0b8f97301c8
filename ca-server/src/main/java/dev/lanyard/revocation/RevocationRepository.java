package dev.lanyard.revocation;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The durable revocation log. Each write is one transaction, durable before it returns. */
public interface RevocationRepository {

    /** A revocation to record; the repository gives it its sequence. */
    record NewRevocation(RevocationTarget target, RevocationReason reason, String note, Instant revokedAt,
            String revokedBy, String spiffeId, String issuerKeyId, Optional<Instant> expiresAt) {
    }

    /** What {@link #revoke} did for one target: the revocation in force, and whether it is new. */
    record Outcome(Revocation revocation, boolean created) {
    }

    /**
     * Records each revocation whose target is not revoked already, all in one transaction, and
     * returns, in order, the revocation in force for each.
     */
    List<Outcome> revoke(List<NewRevocation> revocations);

    /** Lifts an identity revocation; empty when the identity was not revoked. */
    Optional<RevocationEvent.Reinstated> reinstate(String spiffeId, Instant at, String by, String note);

    /** Events with a sequence above {@code sequence}, oldest first, at most {@code limit}. */
    List<RevocationEvent> eventsAfter(long sequence, int limit);

    /**
     * Forgets revocations (and their events) whose certificate or token expired before {@code now}:
     * they can never matter again. Reinstatements and identity revocations are kept.
     */
    int pruneExpired(Instant now);

    /** The next CRL number for an issuing CA, durably (never handed out twice, also across replicas). */
    long nextCrlNumber(String issuerKeyId);
}
