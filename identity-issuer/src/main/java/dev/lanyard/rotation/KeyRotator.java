package dev.lanyard.rotation;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The one step machine behind CA and JWT key rotation: asks the planner what is due, takes the
 * steps under the rotation lease (one replica at a time, writes fenced), and lets an admin force
 * one step. What a step means for a kind of key is its {@link Keys}; each step's writes are stored
 * together with its record ({@link StepLog}).
 */
public final class KeyRotator {

    private static final Duration LEASE_WAIT = Duration.ofSeconds(10);

    /** One kind of rotating key, as the step machine sees it. */
    public interface Keys {

        /** Every key that is not dropped. */
        List<KeySlot> slots();

        /**
         * Makes the next key with {@code status} (ACTIVE on bootstrap, else PREPARED) in custody, then
         * stores it through {@code write}. Empty when done; otherwise why it cannot (an offline root, say).
         */
        Optional<String> create(KeyStatus status, Instant now, Fence fence, StepWrite write);

        /**
         * Lets a PREPARED key sign and retires the others, in one fenced write through {@code write};
         * false if it was not PREPARED.
         */
        boolean activate(String id, Instant now, Fence fence, StepWrite write);

        /** Retires an ACTIVE key through {@code write}; false if it was not ACTIVE. */
        boolean retire(String id, Instant now, StepWrite write);

        /** Everything the key signed has expired: stops publishing it, through {@code write}; false if it was not RETIRED. */
        boolean drop(String id, Instant now, StepWrite write);
    }

    /**
     * A step's store writes, recorded in their transaction as the step on {@code keyId} (a new key's
     * id is known only once it is made). Only store writes go in: custody calls stay outside.
     */
    @FunctionalInterface
    public interface StepWrite {

        /** @return what {@code write} returned: false if it found nothing to change (nothing is recorded) */
        boolean store(String keyId, BooleanSupplier write);
    }

    private final Keys keys;
    private final RotationPlanner planner;
    private final RotationLease lease;
    private final Clock clock;

    public KeyRotator(Keys keys, RotationPlanner planner, RotationLease lease, Clock clock) {
        this.keys = keys;
        this.planner = planner;
        this.lease = lease;
        this.clock = clock;
    }

    public RotationPlanner planner() {
        return planner;
    }

    /**
     * Takes every step that is due, if the lease comes within a few seconds, each recorded in {@code log}
     * with its writes; returns the steps taken (a new key's step names it).
     */
    public List<RotationStep> tick(StepLog log) {
        return lease.whileHeld(LEASE_WAIT, fence -> {
            Instant now = clock.instant();
            List<RotationStep> taken = new ArrayList<>();
            for (RotationStep step : planner.plan(keys.slots(), now)) {
                Taken result = apply(step, now, fence, log);
                result.step().ifPresent(taken::add);
            }
            return taken;
        }).orElse(List.of());
    }

    /** `lanyard keys rotate`: one step now, recorded in {@code log}, or the reason it would be unsafe. */
    public Optional<String> forceStep(StepLog log) {
        try {
            return lease.whileHeld(LEASE_WAIT, fence -> {
                Instant now = clock.instant();
                RotationPlanner.Forced forced = planner.force(keys.slots(), now);
                if (forced.step().isEmpty()) {
                    return Optional.of(forced.refusal());
                }
                return apply(forced.step().get(), now, fence, log).refusal();
            }).orElse(Optional.of("another replica held the rotation lease for " + LEASE_WAIT.toSeconds()
                    + " s; try again"));
        } catch (LeaseLostException e) {
            return Optional.of(e.getMessage());
        }
    }

    /** What applying a step came to: the step as recorded, or why nothing was done. */
    private record Taken(Optional<RotationStep> step, Optional<String> refusal) {
    }

    private Taken apply(RotationStep step, Instant now, Fence fence, StepLog log) {
        List<RotationStep> recorded = new ArrayList<>(1);
        StepWrite write = (keyId, change) -> {
            RotationStep named = new RotationStep(step.kind(), keyId);
            boolean changed = log.recordWith(named, change);
            if (changed) {
                recorded.add(named);
            }
            return changed;
        };
        Optional<String> refusal = switch (step.kind()) {
            case BOOTSTRAP -> keys.create(KeyStatus.ACTIVE, now, fence, write);
            case PREPARE -> keys.create(KeyStatus.PREPARED, now, fence, write);
            case ACTIVATE -> keys.activate(step.keyId(), now, fence, write) ? Optional.empty()
                    : Optional.of("key " + step.keyId() + " is no longer prepared");
            case RETIRE -> keys.retire(step.keyId(), now, write) ? Optional.empty()
                    : Optional.of("key " + step.keyId() + " is no longer active");
            case DROP -> keys.drop(step.keyId(), now, write) ? Optional.empty()
                    : Optional.of("key " + step.keyId() + " is no longer retired");
        };
        return new Taken(recorded.stream().findFirst(), refusal);
    }
}
