package dev.lanyard.token;

import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/** A JWT signing key as the store keeps it: the public JWK; the private key is in custody
 * under {@code custodyKeyId} (the kid is the JWK thumbprint, known only once the key exists). */
public record StoredSigningKey(String kid, SigningAlgorithm algorithm, KeyStatus status, String publicJwkJson,
        String custodyKeyId, Instant createdAt, Optional<Instant> activatedAt, Optional<Instant> retiredAt) {

    public StoredSigningKey {
        Objects.requireNonNull(kid, "kid");
        Objects.requireNonNull(algorithm, "algorithm");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(publicJwkJson, "publicJwkJson");
        Objects.requireNonNull(custodyKeyId, "custodyKeyId");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(activatedAt, "activatedAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
    }
}
