package dev.lanyard.rotation;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * What the rotation planner needs to know of one key.
 *
 * @param rotateBy when the key's own validity says its successor must take over, if earlier than the
 *                 policy's lifetime (an imported CA certificate signed for less than the configured
 *                 intermediate lifetime); empty for keys that live by the policy alone
 */
public record KeySlot(String id, KeyStatus status, Instant createdAt, Optional<Instant> activatedAt,
        Optional<Instant> retiredAt, Optional<Instant> rotateBy) {

    /** A key that lives by the rotation policy alone. */
    public KeySlot(String id, KeyStatus status, Instant createdAt, Optional<Instant> activatedAt,
            Optional<Instant> retiredAt) {
        this(id, status, createdAt, activatedAt, retiredAt, Optional.empty());
    }

    public KeySlot {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(activatedAt, "activatedAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
        Objects.requireNonNull(rotateBy, "rotateBy");
    }
}
