package dev.lanyard.ca;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.spiffe.SpiffeId;
import java.util.List;
import java.util.Optional;

/** Durable record of every issued certificate. */
public interface IssuedCertificateRepository {

    /** A page of results and the cursor for the next page (empty on the last). */
    record Page(List<IssuedCertificateRecord> certificates, Optional<String> nextCursor) {
        public Page {
            certificates = List.copyOf(certificates);
        }
    }

    /**
     * Records a certificate the server issued itself (its TLS certificate, the dev admin credential)
     * together with the audit record of its issuance, in one transaction:
     * no certificate is on file without its audit record (and it costs one commit, not two).
     */
    void record(IssuedCertificateRecord certificate, AuditEvent issuance);

    /**
     * As {@link #record}, for a workload: in the same transaction, ordered with any revocation of its
     * identity (see the store's {@code IdentityOrder}), it is refused with a
     * {@link dev.lanyard.refusal.RefusedInTransaction} when the identity has no registration or is
     * revoked, or one of {@code presentedSerials} is (the certificate a renewal came with; the certificate
     * of the node agent that asks for a workload); retryably when the
     * registration is not {@code decidedOn}, the one it was issued under (a node agent's SVID: not compared).
     * Returns at once: the future completes when both are committed, or with what refused them.
     */
    java.util.concurrent.CompletableFuture<Void> recordForWorkload(IssuedCertificateRecord certificate, AuditEvent issuance, List<String> presentedSerials,
            dev.lanyard.registration.Registration decidedOn);

    /**
     * A change made through the store's repositories in the transaction that records a certificate,
     * before it (redeeming the join token it was issued on): kept only if the certificate is, and a
     * {@link dev.lanyard.refusal.Refusal} it throws refuses the certificate, as a
     * {@link dev.lanyard.refusal.RefusedInTransaction}.
     */
    @FunctionalInterface
    interface Alongside {
        void make() throws dev.lanyard.refusal.Refusal;
    }

    /**
     * As {@link #recordForWorkload(IssuedCertificateRecord, AuditEvent, List, dev.lanyard.registration.Registration)},
     * with {@code alongside} made first in the same transaction: both are stored or neither.
     */
    java.util.concurrent.CompletableFuture<Void> recordForWorkload(IssuedCertificateRecord certificate, AuditEvent issuance, List<String> presentedSerials,
            dev.lanyard.registration.Registration decidedOn, Alongside alongside);

    Optional<IssuedCertificateRecord> findBySerial(String serialHex);

    /**
     * Whether the certificate with this serial was issued through a workload path ({@link #recordForWorkload});
     * false for one {@link #record}ed (the server's own credentials) and for one not on file (issued
     * outside this CA, as production admin certificates are).
     */
    boolean issuedToWorkload(String serialHex);

    /** The certificates of one identity that have not expired at {@code now}, oldest first. */
    List<IssuedCertificateRecord> live(SpiffeId spiffeId, java.time.Instant now);

    /**
     * Deletes up to {@code limit} records of certificates that expired before {@code cutoff}, those
     * that expired first first; returns how many.
     */
    int pruneExpired(java.time.Instant cutoff, int limit);

    /** Newest first; {@code spiffeId} empty for all; {@code cursor} from a previous page or empty. */
    Page list(Optional<SpiffeId> spiffeId, Optional<String> cursor, int limit);
}
