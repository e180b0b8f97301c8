package dev.lanyard.ca;

import dev.lanyard.rotation.RotationLease;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The first startup step: the CA in the store, or a new one. Replicas started together on an
 * empty database make one root: the one that gets the bootstrap lease creates the CA, the others
 * wait for it to appear.
 */
public final class CaBootstrap {

    /** The CA to serve, and whether this replica made it (to audit). */
    public record Outcome(IssuingCa ca, boolean created) {
    }

    private static final Duration RECHECK = Duration.ofMillis(200);

    private final CaKeyStore store;
    private final RotationLease lease;
    private final Duration patience;

    public CaBootstrap(CaKeyStore store, RotationLease lease, Duration patience) {
        this.store = store;
        this.lease = lease;
        this.patience = patience;
    }

    public Outcome loadOrCreate(Supplier<IssuingCa> create) {
        long deadline = System.nanoTime() + patience.toNanos();
        while (true) {
            Optional<IssuingCa> existing = store.loadActive();
            if (existing.isPresent()) {
                return new Outcome(existing.get(), false);
            }
            Optional<Outcome> made = lease.whileHeld(RECHECK, fence -> store.loadActive()
                    .map(ca -> new Outcome(ca, false))
                    .orElseGet(() -> {
                        IssuingCa ca = create.get();
                        store.save(ca);
                        return new Outcome(ca, true);
                    }));
            if (made.isPresent()) {
                return made.get();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the database has no CA and another replica has held the CA bootstrap"
                        + " lease for " + patience.toSeconds() + " s without creating one; check that replica's log");
            }
        }
    }
}
