package dev.lanyard.client.token;

import java.time.Instant;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * A token whose signature, issuer, audience, lifetime and certificate binding have been checked.
 * Only {@link TokenVerifier} constructs one, so holding a {@code VerifiedToken} means it verified.
 * It holds the claims, never the token itself.
 */
public final class VerifiedToken {

    private final String subject;
    private final String audience;
    private final Set<String> scopes;
    private final String tokenId;
    private final Instant expiresAt;
    private final String keyId;

    VerifiedToken(String subject, String audience, Set<String> scopes, String tokenId, Instant expiresAt,
            String keyId) {
        this.subject = Objects.requireNonNull(subject, "subject");
        this.audience = Objects.requireNonNull(audience, "audience");
        this.scopes = Set.copyOf(scopes);
        this.tokenId = Objects.requireNonNull(tokenId, "tokenId");
        this.expiresAt = Objects.requireNonNull(expiresAt, "expiresAt");
        this.keyId = Objects.requireNonNull(keyId, "keyId");
    }

    /** The caller's SPIFFE ID ({@code sub}). */
    public String subject() {
        return subject;
    }

    /** The one audience the token names ({@code aud}), equal to the verifier's. */
    public String audience() {
        return audience;
    }

    /** The scopes the token holds ({@code scope}). */
    public Set<String> scopes() {
        return scopes;
    }

    /** The token's unique id ({@code jti}), for revocation and audit. */
    public String tokenId() {
        return tokenId;
    }

    /** When the token expires ({@code exp}). */
    public Instant expiresAt() {
        return expiresAt;
    }

    /** The id of the key that signed it ({@code kid}). */
    public String keyId() {
        return keyId;
    }

    /** Those of {@code required} the token does not hold, sorted; empty when it holds them all. */
    public Set<String> missingScopes(Collection<String> required) {
        Set<String> missing = new TreeSet<>(required);
        missing.removeAll(scopes);
        return missing;
    }

    @Override
    public String toString() {
        return "VerifiedToken[sub=" + subject + ", aud=" + audience + ", scopes=" + new TreeSet<>(scopes)
                + ", jti=" + tokenId + ", exp=" + expiresAt + ", kid=" + keyId + "]";
    }
}
