package dev.lanyard.revocation;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One revocation as recorded.
 *
 * @param spiffeId    the certificate's identity for a serial, the identity itself, empty for a token id
 * @param issuerKeyId the CA that issued a revoked serial (its CRL lists it); empty otherwise
 * @param expiresAt   when it stops mattering (the certificate or token has expired); empty for identities
 * @param trustDomain the federated trust domain whose Lanyard revoked it; empty for this server's own
 */
public record Revocation(long sequence, RevocationTarget target, RevocationReason reason, String note,
        Instant revokedAt, String revokedBy, String spiffeId, String issuerKeyId, Optional<Instant> expiresAt,
        String trustDomain) {

    /** One of this server's own revocations. */
    public Revocation(long sequence, RevocationTarget target, RevocationReason reason, String note, Instant revokedAt,
            String revokedBy, String spiffeId, String issuerKeyId, Optional<Instant> expiresAt) {
        this(sequence, target, reason, note, revokedAt, revokedBy, spiffeId, issuerKeyId, expiresAt, "");
    }

    public Revocation {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(note, "note");
        Objects.requireNonNull(revokedAt, "revokedAt");
        Objects.requireNonNull(revokedBy, "revokedBy");
        Objects.requireNonNull(spiffeId, "spiffeId");
        Objects.requireNonNull(issuerKeyId, "issuerKeyId");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(trustDomain, "trustDomain");
    }

    /** Revoked by a federated trust domain's Lanyard, not by this server. */
    public boolean federated() {
        return !trustDomain.isEmpty();
    }

    /** Still in force at {@code now}: identities until reinstated, the rest until what they name expired. */
    public boolean inForceAt(Instant now) {
        return expiresAt.map(now::isBefore).orElse(true);
    }

    /** "keyCompromise, revoked 2026-11-23T10:00:00Z by spiffe://td/admin (#42)": what a refusal names. */
    public String describe() {
        return reason.rfcName() + ", revoked " + revokedAt + " by " + revokedBy + " (#" + sequence + ")";
    }

    /** Why a caller covered by this revocation is refused: the message every refusal names it with. */
    public String refusalMessage() {
        String what = target.kind() == RevocationTarget.Kind.SERIAL ? "certificate " + target.value() : target.value();
        return what + " is revoked (" + describe() + ")"
                + (target.kind() == RevocationTarget.Kind.SPIFFE_ID ? "; an admin must reinstate it" : "");
    }
}
