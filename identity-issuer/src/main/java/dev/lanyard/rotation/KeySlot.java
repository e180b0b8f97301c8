package dev.lanyard.rotation;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/** What the rotation planner needs to know of one key. */
public record KeySlot(String id, KeyStatus status, Instant createdAt, Optional<Instant> activatedAt,
        Optional<Instant> retiredAt) {

    public KeySlot {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(activatedAt, "activatedAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
    }
}
