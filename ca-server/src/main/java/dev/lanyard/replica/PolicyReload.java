package dev.lanyard.replica;

import dev.lanyard.policy.PolicyStore;
import dev.lanyard.policy.StalePolicyException;
import dev.lanyard.store.JdbcPolicyRepository;

/** Puts in force a newer policy that another replica stored (one small query when there is none). */
public final class PolicyReload implements Runnable {

    private final PolicyStore store;
    private final JdbcPolicyRepository history;

    public PolicyReload(PolicyStore store, JdbcPolicyRepository history) {
        this.store = store;
        this.history = history;
    }

    @Override
    public void run() {
        if (history.latestVersion() <= store.current().version()) {
            return;
        }
        synchronized (store) {
            history.latest().filter(p -> p.getVersion() > store.current().version()).ifPresent(p -> {
                try {
                    store.apply(p);
                } catch (StalePolicyException e) {
                    // applied here meanwhile
                }
            });
        }
    }
}
