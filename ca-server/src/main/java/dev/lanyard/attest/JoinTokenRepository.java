package dev.lanyard.attest;

import java.time.Instant;
import java.util.Optional;

/** Durable join tokens (hashes only). */
public interface JoinTokenRepository {

    void insert(StoredJoinToken token);

    Optional<StoredJoinToken> find(String id);

    /**
     * Marks the token used, atomically: true for exactly one caller, false if it was used
     * already (or does not exist). This is what makes a join token single use.
     */
    boolean markUsed(String id, Instant usedAt);
}
