package dev.lanyard.policy;

import dev.lanyard.v1.Policy;
import java.util.Objects;

/**
 * The grants policy in force, replaced atomically. Versions only go up, so a stale file or a
 * replayed admin call cannot roll grants back. Readers never lock.
 */
public final class PolicyStore {

    private volatile GrantsPolicy current;

    /** Starts with the empty policy (version 0): nothing granted. */
    public PolicyStore() {
        this(GrantsPolicy.empty());
    }

    public PolicyStore(GrantsPolicy initial) {
        this.current = Objects.requireNonNull(initial, "initial");
    }

    public GrantsPolicy current() {
        return current;
    }

    /**
     * Validates {@code policy} and puts it in force.
     *
     * @throws InvalidPolicyException if it is malformed
     * @throws StalePolicyException if its version is not greater than the one in force
     */
    public synchronized GrantsPolicy apply(Policy policy) {
        GrantsPolicy next = GrantsPolicy.from(policy);
        if (next.version() <= current.version()) {
            throw new StalePolicyException(next.version(), current.version());
        }
        current = next;
        return next;
    }
}
