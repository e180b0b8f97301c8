package dev.lanyard.audit;

import java.util.List;

/** The append-only audit trail. */
public interface AuditLog {

    /** Appends one record durably before returning. */
    void record(AuditEvent event);

    /** The newest {@code limit} records, newest first. */
    List<AuditEvent> recent(int limit);
}
