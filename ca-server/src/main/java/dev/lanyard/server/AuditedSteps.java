package dev.lanyard.server;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.rotation.RotationStep;
import dev.lanyard.rotation.StepLog;
import java.time.Clock;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/** Key rotation steps recorded in the audit trail, each in the transaction of its writes. */
final class AuditedSteps implements StepLog {

    private final Function<RotationStep, ChangeRecord> records;

    private AuditedSteps(Function<RotationStep, ChangeRecord> records) {
        this.records = records;
    }

    /** Steps the server takes on its schedule: its own actor, {@code kind} and the step as the target. */
    static StepLog scheduled(AuditLog audit, Clock clock, String kind) {
        return new AuditedSteps(step -> new ChangeRecord(audit, new AuditEvent(clock.instant(), "lanyard",
                "key.rotate", kind + " " + describe(step), AuditEvent.Outcome.SUCCESS, "scheduled")));
    }

    /** A step an admin forced: recorded as the call's own SUCCESS record, naming the step. */
    static StepLog forced(ChangeRecord call) {
        return new AuditedSteps(step -> call.withDetail(describe(step)));
    }

    @Override
    public boolean recordWith(RotationStep step, BooleanSupplier write) {
        return records.apply(step).withIfChanged(write);
    }

    /** "prepare 3f2a…": the step and the key it is about. */
    private static String describe(RotationStep step) {
        String kind = step.kind().name().toLowerCase(Locale.ROOT);
        return step.keyId().isEmpty() ? kind : kind + " " + step.keyId();
    }
}
