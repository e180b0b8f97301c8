package dev.lanyard.rotation;

import java.util.function.BooleanSupplier;

/**
 * Keeps a rotation step's store writes and the record of the step together: both are stored or
 * neither. A step's slow part (making a key in custody) runs before, outside; only its writes run
 * inside, since the record holds the audit trail's head while they do. Who records (the server's
 * schedule, an admin) is the log's business, not the step's.
 */
@FunctionalInterface
public interface StepLog {

    /**
     * Runs {@code write} and records {@code step} in one transaction. When {@code write} returns
     * false (it found nothing to change: another replica got there first) nothing is recorded and
     * whatever it wrote is rolled back.
     *
     * @return what {@code write} returned
     */
    boolean recordWith(RotationStep step, BooleanSupplier write);

    /** No record: tools and tests with no audit trail. */
    static StepLog unrecorded() {
        return (step, write) -> write.getAsBoolean();
    }
}
