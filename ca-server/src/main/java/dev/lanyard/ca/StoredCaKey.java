package dev.lanyard.ca;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A CA certificate and its sealed (envelope-encrypted) private key as the store keeps them.
 * The root of an imported production CA may have no private key here: it stays offline.
 */
public record StoredCaKey(
        String id, Kind kind, Status status, String certificatePem, Optional<String> sealedPrivateKey,
        Instant notAfter, Instant createdAt, Optional<Instant> activatedAt, Optional<Instant> retiredAt) {

    public enum Kind { ROOT, INTERMEDIATE }

    /**
     * The rotation state machine of DESIGN.md: prepared, then active, then retired; dropped once
     * nothing it signed is still valid (kept as history, no longer trusted).
     */
    public enum Status { PREPARED, ACTIVE, RETIRED, DROPPED }

    public StoredCaKey {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(certificatePem, "certificatePem");
        Objects.requireNonNull(sealedPrivateKey, "sealedPrivateKey");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(activatedAt, "activatedAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
    }

    /** A new key row: created now, active from now if it is created ACTIVE. */
    public static StoredCaKey created(String id, Kind kind, Status status, String certificatePem,
            Optional<String> sealedPrivateKey, Instant notAfter, Instant now) {
        return new StoredCaKey(id, kind, status, certificatePem, sealedPrivateKey, notAfter, now,
                status == Status.ACTIVE ? Optional.of(now) : Optional.empty(), Optional.empty());
    }
}
