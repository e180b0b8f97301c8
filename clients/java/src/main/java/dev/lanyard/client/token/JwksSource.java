package dev.lanyard.client.token;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import java.util.Objects;
import java.util.Optional;

/**
 * Where a {@link TokenVerifier} finds the public key named by a token's {@code kid}.
 * {@link HttpJwksSource} fetches and caches Lanyard's published JWKS; other sources (a fixed set,
 * one that also consults revocations) plug in here.
 */
public interface JwksSource {

    /**
     * The published public key with this id. A source may refetch its key set once (rate limited)
     * when the id is unknown, so a key published after the last fetch is found.
     *
     * @return empty when no published key has this id
     * @throws JwksUnavailableException when no key set could be read at all
     */
    Optional<JWK> key(String keyId) throws JwksUnavailableException;

    /** A source that always answers from {@code keys}; it refuses a set holding private keys or naming a kid twice. */
    static JwksSource fixed(JWKSet keys) {
        Objects.requireNonNull(keys, "keys");
        for (JWK key : keys.getKeys()) {
            if (key.isPrivate()) {
                throw new IllegalArgumentException("the key set holds private key material (kid "
                        + Printable.of(key.getKeyID()) + "); a verifier needs public keys only");
            }
        }
        String twice = HttpJwksSource.duplicateKeyId(keys);
        if (twice != null) {
            throw new IllegalArgumentException("the key set names kid " + Printable.of(twice) + " twice");
        }
        return keyId -> Optional.ofNullable(keys.getKeyByKeyId(keyId));
    }
}
