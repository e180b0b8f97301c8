package dev.lanyard.audit;

import java.util.List;

/** The append-only audit trail, hash-chained (see {@link AuditChain}). */
public interface AuditLog {

    /** Appends one record durably before returning. */
    void record(AuditEvent event);

    /** The newest {@code limit} records, newest first. */
    List<AuditEvent> recent(int limit);

    /** Records with their place in the hash chain, as the query asks. */
    List<AuditRecord> list(AuditQuery query);

    /** How many records match the query's filters (its id bound, order and limit do not apply). */
    long count(AuditQuery query);
}
