package dev.lanyard.token;

import com.nimbusds.jose.jwk.JWK;
import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.Optional;

/** The public face of a JWT signing key: what the JWKS publishes and `lanyard keys list` shows. */
public record SigningKey(String kid, SigningAlgorithm algorithm, KeyStatus status, JWK publicJwk, Instant createdAt,
        Optional<Instant> activatedAt, Optional<Instant> retiredAt) {
}
