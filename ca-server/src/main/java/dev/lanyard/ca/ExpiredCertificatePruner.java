package dev.lanyard.ca;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Deletes the records of certificates that expired more than a retention window ago, so the store
 * holds what is live plus a window to look back on, not every certificate ever issued. Each run
 * that deletes anything leaves one audit record saying how many and up to when. Revocations keep
 * their own records; a pruned certificate's issuance stays in the audit trail.
 */
public final class ExpiredCertificatePruner implements Runnable {

    /** Deleted per transaction, so one run never holds a long transaction on a large backlog. */
    static final int BATCH = 1000;

    private final IssuedCertificateRepository certificates;
    private final AuditLog audit;
    private final Clock clock;
    private final Duration retention;
    private final String actor;

    /**
     * @param retention how long after its expiry a certificate's record is kept
     * @param actor     who the audit record names: the server's own SPIFFE ID
     */
    public ExpiredCertificatePruner(IssuedCertificateRepository certificates, AuditLog audit, Clock clock,
            Duration retention, String actor) {
        if (retention.isNegative()) {
            throw new IllegalArgumentException("certificates.retention must not be negative, got " + retention);
        }
        this.certificates = certificates;
        this.audit = audit;
        this.clock = clock;
        this.retention = retention;
        this.actor = actor;
    }

    @Override
    public void run() {
        pruneNow();
    }

    /**
     * Returns how many records were deleted. Each batch is deleted in one transaction with its audit
     * record, which says how many it deleted: no record is lost to a crash between the two.
     */
    public long pruneNow() {
        Instant now = clock.instant();
        Instant cutoff = now.minus(retention);
        long deleted = 0;
        int batch;
        do {
            batch = audit.recordIfChanged(count -> new AuditEvent(now, actor, "certificates.prune",
                    "expired before " + cutoff, AuditEvent.Outcome.SUCCESS, count
                            + " certificate records deleted, " + retention + " after their expiry"), () -> {
                                int count = certificates.pruneExpired(cutoff, BATCH);
                                return count == 0 ? Optional.<Integer>empty() : Optional.of(count);
                            }).orElse(0);
            deleted += batch;
        } while (batch == BATCH);
        return deleted;
    }
}
