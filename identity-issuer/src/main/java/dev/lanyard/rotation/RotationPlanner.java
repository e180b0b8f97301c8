package dev.lanyard.rotation;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The rotation state machine as pure functions of the persisted key states and the time
 * (SPIRE's ShouldPrepareNext/ShouldActivateNext): every replica that reads the same keys at the
 * same time decides the same steps. Used for JWT signing keys and the X.509 issuing CA alike.
 */
public final class RotationPlanner {

    private final RotationPolicy policy;

    public RotationPlanner(RotationPolicy policy) {
        this.policy = policy;
    }

    public RotationPolicy policy() {
        return policy;
    }

    /** The steps due at {@code now}, in order. */
    public List<RotationStep> plan(List<KeySlot> keys, Instant now) {
        List<RotationStep> steps = new ArrayList<>();
        Optional<KeySlot> active = newest(keys, KeyStatus.ACTIVE);
        Optional<KeySlot> prepared = newest(keys, KeyStatus.PREPARED);
        if (active.isEmpty() && prepared.isEmpty()) {
            steps.add(RotationStep.of(RotationStep.Kind.BOOTSTRAP));
        } else if (active.isEmpty()) {
            // A prepared key with no active one (a half-finished rotation): let it sign.
            steps.add(new RotationStep(RotationStep.Kind.ACTIVATE, prepared.get().id()));
        } else {
            Instant end = end(active.get());
            if (prepared.isEmpty() && !now.isBefore(end.minus(policy.publishLead()))) {
                steps.add(RotationStep.of(RotationStep.Kind.PREPARE));
            } else if (prepared.isPresent() && !now.isBefore(end) && published(prepared.get(), now)) {
                steps.add(new RotationStep(RotationStep.Kind.ACTIVATE, prepared.get().id()));
            }
        }
        for (KeySlot key : keys) {
            if (key.status() == KeyStatus.ACTIVE && active.isPresent() && !key.id().equals(active.get().id())) {
                steps.add(new RotationStep(RotationStep.Kind.RETIRE, key.id()));
            }
            if (key.status() == KeyStatus.RETIRED
                    && !now.isBefore(key.retiredAt().orElse(key.createdAt()).plus(policy.retention()))) {
                steps.add(new RotationStep(RotationStep.Kind.DROP, key.id()));
            }
        }
        return steps;
    }

    /**
     * A step forced by an admin: prepare a next key if there is none; otherwise activate the prepared
     * one, but only once it has been published for the publish lead, or verifiers could meet
     * tokens signed by a key they have never fetched. Empty with a reason when that is too early.
     */
    public Forced force(List<KeySlot> keys, Instant now) {
        Optional<KeySlot> prepared = newest(keys, KeyStatus.PREPARED);
        if (newest(keys, KeyStatus.ACTIVE).isEmpty() && prepared.isEmpty()) {
            return new Forced(Optional.of(RotationStep.of(RotationStep.Kind.BOOTSTRAP)), "");
        }
        if (prepared.isEmpty()) {
            return new Forced(Optional.of(RotationStep.of(RotationStep.Kind.PREPARE)), "");
        }
        if (!published(prepared.get(), now)) {
            Instant from = prepared.get().createdAt().plus(policy.publishLead());
            return new Forced(Optional.empty(), "prepared key " + prepared.get().id() + " may sign from " + from
                    + ", once verifiers have had one refresh interval to fetch it");
        }
        return new Forced(Optional.of(new RotationStep(RotationStep.Kind.ACTIVATE, prepared.get().id())), "");
    }

    /** What happens to a key next, and from when (on the first rotation tick after it). */
    public record Transition(String step, Instant at) {
    }

    /**
     * The next scheduled step for {@code key} among {@code keys}, as {@link #plan} will take it: a prepared
     * key activates once published for the publish lead and the active one reached its lifetime; an
     * active key has its successor prepared a publish lead before its end, and retires when that
     * successor activates; a retired key is dropped after the retention.
     */
    public Optional<Transition> next(List<KeySlot> keys, KeySlot key) {
        Optional<KeySlot> active = newest(keys, KeyStatus.ACTIVE);
        Optional<KeySlot> prepared = newest(keys, KeyStatus.PREPARED);
        Optional<Instant> activeEnd = active.map(this::end);
        switch (key.status()) {
            case PREPARED -> {
                Instant publishedAt = key.createdAt().plus(policy.publishLead());
                Instant at = activeEnd.filter(end -> end.isAfter(publishedAt)).orElse(publishedAt);
                return Optional.of(new Transition("activates", active.isEmpty() ? key.createdAt() : at));
            }
            case ACTIVE -> {
                if (active.isPresent() && !active.get().id().equals(key.id())) {
                    return Optional.of(new Transition("retires", key.createdAt()));
                }
                if (prepared.isEmpty()) {
                    return activeEnd.map(end -> new Transition("next key prepared", end.minus(policy.publishLead())));
                }
                Instant successorFrom = prepared.get().createdAt().plus(policy.publishLead());
                return activeEnd.map(end -> new Transition("retires", end.isAfter(successorFrom) ? end : successorFrom));
            }
            case RETIRED -> {
                return Optional.of(new Transition("dropped from the bundle",
                        key.retiredAt().orElse(key.createdAt()).plus(policy.retention())));
            }
            default -> {
                return Optional.empty();
            }
        }
    }

    /** The outcome of a forced step: the step, or why there is none now. */
    public record Forced(Optional<RotationStep> step, String refusal) {
    }

    /** When the active key's successor takes over: its policy lifetime, or sooner if its own validity says so. */
    public Instant end(KeySlot active) {
        Instant byPolicy = active.activatedAt().orElse(active.createdAt()).plus(policy.keyLifetime());
        return active.rotateBy().filter(by -> by.isBefore(byPolicy)).orElse(byPolicy);
    }

    private boolean published(KeySlot prepared, Instant now) {
        return !now.isBefore(prepared.createdAt().plus(policy.publishLead()));
    }

    private static Optional<KeySlot> newest(List<KeySlot> keys, KeyStatus status) {
        return keys.stream().filter(k -> k.status() == status).max(Comparator.comparing(KeySlot::createdAt));
    }
}
