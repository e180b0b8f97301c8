package dev.lanyard.registration;

import dev.lanyard.refusal.Refusal;
import dev.lanyard.spiffe.SpiffeId;
import java.util.Collection;
import java.util.Set;

/**
 * The SPIFFE IDs configured as admins ({@code admin.spiffe-ids}). One outside {@link ReservedIds}'
 * prefix is not kept from workloads by its path, so it is kept out here: a workload certificate for
 * it would carry the admin's rights.
 */
public final class AdminIds {

    private final Set<SpiffeId> ids;

    public AdminIds(Collection<SpiffeId> ids) {
        this.ids = Set.copyOf(ids);
    }

    public boolean contains(SpiffeId id) {
        return ids.contains(id);
    }

    /** Refuses {@code id} as a workload's: to be registered, given a join token, issued or served by an agent. */
    public void refuseAsWorkload(SpiffeId id) throws Refusal {
        if (contains(id)) {
            throw Refusal.denied(id + " is an admin of this server (admin.spiffe-ids): an admin's ID cannot be"
                    + " registered, enrolled or served as a workload's; admin certificates come from your own process");
        }
    }
}
