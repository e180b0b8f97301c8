package dev.lanyard.ca;

import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.rotation.RotationLease;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The first startup step: the CA in the store, or a new one. Replicas started together on an
 * empty database make one root: the one that gets the bootstrap lease creates the CA, the others
 * wait for it to appear.
 */
public final class CaBootstrap {

    /** The CA to serve, and whether this replica made it. */
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

    /**
     * The CA in the store; else one made by {@code create} (under the bootstrap lease) and stored with
     * the audit record {@code record} gives it, in one transaction. A CA whose rows or record cannot be
     * stored has its keys destroyed in custody, and the exception goes to the caller.
     */
    public Outcome loadOrCreate(Supplier<IssuingCa> create, Function<IssuingCa, ChangeRecord> record) {
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
                        try {
                            record.apply(ca).with(() -> {
                                store.save(ca);
                                return null;
                            });
                        } catch (RuntimeException e) {
                            store.discard(ca.intermediate());
                            store.discard(ca.root());
                            throw e;
                        }
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
