package dev.lanyard.ca;

import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A CA certificate as the store keeps it, and the custody id of its private key. The root of an
 * imported production CA has none: its key stays offline.
 */
public record StoredCaKey(
        String id, Kind kind, KeyStatus status, String certificatePem, Optional<String> custodyKeyId,
        Instant notAfter, Instant createdAt, Optional<Instant> activatedAt, Optional<Instant> retiredAt) {

    public enum Kind { ROOT, INTERMEDIATE }

    public StoredCaKey {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(certificatePem, "certificatePem");
        Objects.requireNonNull(custodyKeyId, "custodyKeyId");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(activatedAt, "activatedAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
    }

    /** A new key row: created now, active from now if it is created ACTIVE. */
    public static StoredCaKey created(String id, Kind kind, KeyStatus status, String certificatePem,
            Optional<String> custodyKeyId, Instant notAfter, Instant now) {
        return new StoredCaKey(id, kind, status, certificatePem, custodyKeyId, notAfter, now,
                status == KeyStatus.ACTIVE ? Optional.of(now) : Optional.empty(), Optional.empty());
    }
}
