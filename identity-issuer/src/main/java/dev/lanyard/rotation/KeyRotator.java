package dev.lanyard.rotation;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one step machine behind CA and JWT key rotation: asks the planner what is due, takes the
 * steps under the rotation lease (one replica at a time, writes fenced), and lets an admin force
 * one step. What a step means for a kind of key is its {@link Keys}.
 */
public final class KeyRotator {

    private static final Duration LEASE_WAIT = Duration.ofSeconds(10);

    /** One kind of rotating key, as the step machine sees it. */
    public interface Keys {

        /** Every key that is not dropped. */
        List<KeySlot> slots();

        /**
         * Makes the next key with {@code status} (ACTIVE on bootstrap, else PREPARED), in custody and
         * in the store. Empty when done; otherwise why it cannot (an offline root, say).
         */
        Optional<String> create(KeyStatus status, Instant now, Fence fence);

        /** Lets a PREPARED key sign and retires the others, in one fenced write; false if it was not PREPARED. */
        boolean activate(String id, Instant now, Fence fence);

        void retire(String id, Instant now);

        /** Everything the key signed has expired. */
        void drop(String id, Instant now);
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

    /** Takes every step that is due, if the lease comes within a few seconds; returns the steps taken. */
    public List<RotationStep> tick() {
        return lease.whileHeld(LEASE_WAIT, fence -> {
            Instant now = clock.instant();
            List<RotationStep> taken = new ArrayList<>();
            for (RotationStep step : planner.plan(keys.slots(), now)) {
                if (apply(step, now, fence).isEmpty()) {
                    taken.add(step);
                }
            }
            return taken;
        }).orElse(List.of());
    }

    /** `lanyard keys rotate`: one step now, or the reason it would be unsafe. */
    public Optional<String> forceStep() {
        try {
            return lease.whileHeld(LEASE_WAIT, fence -> {
                Instant now = clock.instant();
                RotationPlanner.Forced forced = planner.force(keys.slots(), now);
                if (forced.step().isEmpty()) {
                    return Optional.of(forced.refusal());
                }
                return apply(forced.step().get(), now, fence);
            }).orElse(Optional.of("another replica held the rotation lease for " + LEASE_WAIT.toSeconds()
                    + " s; try again"));
        } catch (LeaseLostException e) {
            return Optional.of(e.getMessage());
        }
    }

    private Optional<String> apply(RotationStep step, Instant now, Fence fence) {
        switch (step.kind()) {
            case BOOTSTRAP -> {
                return keys.create(KeyStatus.ACTIVE, now, fence);
            }
            case PREPARE -> {
                return keys.create(KeyStatus.PREPARED, now, fence);
            }
            case ACTIVATE -> {
                return keys.activate(step.keyId(), now, fence) ? Optional.empty()
                        : Optional.of("key " + step.keyId() + " is no longer prepared");
            }
            case RETIRE -> keys.retire(step.keyId(), now);
            case DROP -> keys.drop(step.keyId(), now);
        }
        return Optional.empty();
    }
}
