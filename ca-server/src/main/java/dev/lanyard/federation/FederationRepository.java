package dev.lanyard.federation;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The relationships and their last good bundles, kept across restarts. */
public interface FederationRepository {

    /** A relationship with the bundle held for it (empty before the first fetch). */
    record Stored(FederationRelationship relationship, Optional<String> bundleJson, long bundleSequence,
            Optional<Instant> fetchedAt) {
    }

    /** Adds or replaces the relationship; its bundle is {@code initialBundle} (may be empty). */
    void put(FederationRelationship relationship, Optional<String> initialBundle, long sequence, Instant at);

    /**
     * Stores a bundle fetched for {@code relationship}, only if that relationship is still the one
     * stored (not removed or replaced, on any replica) and no bundle of a higher sequence is stored.
     *
     * @return false when it stored nothing
     */
    boolean updateBundle(FederationRelationship relationship, String json, long sequence, Instant fetchedAt);

    boolean delete(String trustDomain);

    List<Stored> all();
}
