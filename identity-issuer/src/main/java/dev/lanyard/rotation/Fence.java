package dev.lanyard.rotation;

import java.util.Objects;

/**
 * Proof that this replica holds a lease: the lease's name, this replica's holder id and the
 * fencing token it got. The token grows every time the lease changes hands, so a write that
 * checks it in its own transaction is refused once another replica has taken the lease, however
 * late a paused replica wakes up.
 */
public record Fence(String lease, String holder, long token) {

    public Fence {
        Objects.requireNonNull(lease, "lease");
        Objects.requireNonNull(holder, "holder");
    }
}
