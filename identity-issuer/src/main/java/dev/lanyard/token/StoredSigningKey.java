package dev.lanyard.token;

import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/** A JWT signing key as the store keeps it: the public JWK and the sealed private key. */
public record StoredSigningKey(String kid, SigningAlgorithm algorithm, KeyStatus status, String publicJwkJson,
        String sealedPrivateKey, Instant createdAt, Optional<Instant> activatedAt, Optional<Instant> retiredAt) {

    public StoredSigningKey {
        Objects.requireNonNull(kid, "kid");
        Objects.requireNonNull(algorithm, "algorithm");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(publicJwkJson, "publicJwkJson");
        Objects.requireNonNull(sealedPrivateKey, "sealedPrivateKey");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(activatedAt, "activatedAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
    }
}
