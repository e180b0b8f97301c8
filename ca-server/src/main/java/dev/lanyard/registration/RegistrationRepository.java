package dev.lanyard.registration;

import dev.lanyard.spiffe.SpiffeId;
import java.util.List;
import java.util.Optional;

/** Durable registrations, keyed by SPIFFE ID. */
public interface RegistrationRepository {

    /** Stores a new registration; false (and nothing changed) if the SPIFFE ID is registered already. */
    boolean create(Registration registration);

    Optional<Registration> find(SpiffeId spiffeId);

    /** Up to {@code limit} registrations ordered by SPIFFE ID, after {@code afterExclusive} (null: from the start). */
    List<Registration> list(String afterExclusive, int limit);

    /** The registrations whose parent is one of {@code parents} (an agent ID or its node selectors), by SPIFFE ID. */
    List<Registration> withParent(java.util.Collection<String> parents);

    /** Deletes the registration and its unused join tokens; false if there was none. */
    boolean delete(SpiffeId spiffeId);
}
