package dev.lanyard.jwks;

import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import dev.lanyard.token.SigningKey;
import java.util.List;

/** The JWKS verifiers fetch: every published signing key, public members only. */
public final class JwksDocument {

    private JwksDocument() {
    }

    public static String publicJwks(List<SigningKey> keys) {
        List<JWK> jwks = keys.stream().map(SigningKey::publicJwk).toList();
        // toPublicJWKSet drops any private member, whatever a caller passed in.
        return new JWKSet(jwks).toPublicJWKSet().toString(true);
    }
}
