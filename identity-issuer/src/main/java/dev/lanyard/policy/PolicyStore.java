package dev.lanyard.policy;

import dev.lanyard.v1.Policy;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The grants policy in force, replaced atomically. Versions only go up, so a stale file or a
 * replayed admin call cannot roll grants back. Readers never lock.
 */
public final class PolicyStore {

    private static final Logger log = LoggerFactory.getLogger(PolicyStore.class);

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
    public GrantsPolicy apply(Policy policy) {
        return apply(GrantsPolicy.from(policy));
    }

    /**
     * Puts {@code next}, already validated and compiled, in force.
     *
     * @throws StalePolicyException if its version is not greater than the one in force
     */
    public synchronized GrantsPolicy apply(GrantsPolicy next) {
        Objects.requireNonNull(next, "next");
        if (next.version() <= current.version()) {
            throw new StalePolicyException(next.version(), current.version());
        }
        current = next;
        List<String> unverifiable = GrantsPolicy.unverifiableScopes(next.toProto());
        if (!unverifiable.isEmpty()) { // only a policy stored before they were refused: its grants stay in force
            log.warn("policy version {} holds {} scope name(s) that client verifiers refuse, so no token is"
                    + " issued with them (its other grants stay in force); apply a policy with names like"
                    + " payments.charge: {}", next.version(), unverifiable.size(), String.join("; ", unverifiable));
        }
        return next;
    }
}
