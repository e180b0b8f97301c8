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
        Instant notAfter, Instant createdAt) {

    public enum Kind { ROOT, INTERMEDIATE }

    /** The rotation state machine of DESIGN.md: prepared, then active, then retired. */
    public enum Status { PREPARED, ACTIVE, RETIRED }

    public StoredCaKey {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(certificatePem, "certificatePem");
        Objects.requireNonNull(sealedPrivateKey, "sealedPrivateKey");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(createdAt, "createdAt");
    }
}
