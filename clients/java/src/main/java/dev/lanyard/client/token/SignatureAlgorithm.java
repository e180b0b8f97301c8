package dev.lanyard.client.token;

import java.util.Locale;

/**
 * The JWS algorithms a {@link TokenVerifier} may accept. {@code none} and the HMAC family are not
 * in this list and can never be: a verifier holding only public keys must never treat a public key
 * as a shared secret.
 */
public enum SignatureAlgorithm {
    ES256,
    ES384,
    EdDSA,
    RS256,
    PS256;

    /** The enum constant for a JOSE {@code alg} name, refusing {@code none}, HS* and anything unknown. */
    public static SignatureAlgorithm fromJoseName(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("an algorithm name is required");
        }
        String upper = name.trim().toUpperCase(Locale.ROOT);
        if (upper.equals("NONE")) {
            throw new IllegalArgumentException("alg none can never be allowed: it means an unsigned token");
        }
        if (upper.startsWith("HS")) {
            throw new IllegalArgumentException("alg " + name.trim()
                    + " can never be allowed: HMAC would use a public key as a shared secret");
        }
        for (SignatureAlgorithm algorithm : values()) {
            if (algorithm.name().equals(name.trim())) {
                return algorithm;
            }
        }
        throw new IllegalArgumentException("unsupported algorithm " + Printable.of(name)
                + "; supported: ES256, ES384, EdDSA, RS256, PS256");
    }

    /** The JOSE {@code alg} header value. */
    public String joseName() {
        return name();
    }
}
