package dev.lanyard.audit;

import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The SUCCESS record of a change not made yet, handed to the code that makes it: that code does its
 * slow part first (making a key in custody, checking a certificate), then stores its writes and this
 * record in one transaction ({@link #with}), so neither is kept without the other.
 */
public final class ChangeRecord {

    private final AuditLog log;
    private final AuditEvent event;

    public ChangeRecord(AuditLog log, AuditEvent event) {
        this.log = log;
        this.event = event;
    }

    /** Makes {@code change} and stores this record in one transaction ({@link AuditLog#recordWith}). */
    public <T, E extends Exception> T with(AuditLog.Change<T, E> change) throws E {
        return log.recordWith(event, change);
    }

    /**
     * Makes {@code change} and stores this record in one transaction if it changed something (returned
     * true); else rolls it back and stores nothing. Returns what {@code change} returned.
     */
    public boolean withIfChanged(BooleanSupplier change) {
        return log.recordIfChanged(changed -> event,
                () -> change.getAsBoolean() ? Optional.of(true) : Optional.<Boolean>empty())
                .isPresent();
    }

    /** Stores the record alone: the call succeeded without changing anything (it found its change made). */
    public void alone() {
        log.record(event);
    }

    /** The same record with {@code detail} (what was made, e.g. a key id) as its reason. */
    public ChangeRecord withDetail(String detail) {
        return new ChangeRecord(log, new AuditEvent(event.time(), event.actor(), event.action(), event.target(),
                event.outcome(), event.reason().isEmpty() ? detail : event.reason() + "; " + detail));
    }
}
