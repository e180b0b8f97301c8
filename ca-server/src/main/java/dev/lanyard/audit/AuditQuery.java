package dev.lanyard.audit;

import java.time.Instant;
import java.util.Optional;

/**
 * Which audit records to read: filters combine with AND, empty ones match everything.
 *
 * @param afterId ascending: only ids above it; newest first: only ids below it (0: from the newest)
 */
public record AuditQuery(long afterId, boolean newestFirst, int limit, Optional<String> actor,
        Optional<String> actionPrefix, Optional<String> target, Optional<AuditEvent.Outcome> outcome,
        Optional<Instant> since, Optional<Instant> until) {

    /** Everything, oldest first, a page of {@code limit} after {@code afterId}. */
    public static AuditQuery all(long afterId, int limit) {
        return new AuditQuery(afterId, false, limit, Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.empty());
    }
}
