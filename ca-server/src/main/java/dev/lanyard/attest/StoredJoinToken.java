package dev.lanyard.attest;

import dev.lanyard.spiffe.SpiffeId;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A join token as the store keeps it: the public id and the SHA-256 of the secret part,
 * never the secret itself.
 */
public record StoredJoinToken(
        String id, byte[] secretHash, SpiffeId spiffeId, Instant createdAt, Instant expiresAt, Optional<Instant> usedAt) {
    public StoredJoinToken {
        Objects.requireNonNull(id, "id");
        secretHash = secretHash.clone();
        Objects.requireNonNull(spiffeId, "spiffeId");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(usedAt, "usedAt");
    }

    @Override
    public byte[] secretHash() {
        return secretHash.clone();
    }
}
