package dev.lanyard.registration;

import dev.lanyard.spiffe.SpiffeId;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The registrations renewals read, held in memory: a renewal needs its identity's registration (the
 * lifetime and DNS names it allows) before it signs, and a database read for it was about a tenth of
 * a renewal's cost.
 *
 * <p>An entry may be stale: the registration deleted, or deleted and created again, on this replica
 * or another. It never decides alone. Registrations are never updated, only created and deleted, so
 * the transaction that records the certificate locks the registration row and compares its creation
 * time with the one the certificate was issued under; when they differ the issuer forgets the entry
 * and reads the registration again. Bounded: the least recently used entry goes first.
 */
public final class RegistrationCache {

    /** About 4 MB of registrations; beyond it, renewals of the least recently renewed identities read the database. */
    public static final int DEFAULT_CAPACITY = 10_000;

    private final RegistrationRepository repository;
    private final Map<SpiffeId, Registration> entries;

    public RegistrationCache(RegistrationRepository repository, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        this.repository = repository;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<SpiffeId, Registration> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The registration as last read; from the database when not held (an absent one is never held). */
    public Optional<Registration> find(SpiffeId id) {
        synchronized (entries) {
            Registration held = entries.get(id);
            if (held != null) {
                return Optional.of(held);
            }
        }
        Optional<Registration> read = repository.find(id);
        read.ifPresent(registration -> {
            synchronized (entries) {
                entries.put(id, registration);
            }
        });
        return read;
    }

    /** Drops what is held for {@code id}, so the next {@link #find} reads the database. */
    public void forget(SpiffeId id) {
        synchronized (entries) {
            entries.remove(id);
        }
    }

    int size() {
        synchronized (entries) {
            return entries.size();
        }
    }
}
