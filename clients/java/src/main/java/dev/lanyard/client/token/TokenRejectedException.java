package dev.lanyard.client.token;

import java.util.Objects;

/**
 * A token that did not verify. The message says why in words a caller can act on; it never
 * contains the token (a bearer secret), only the claim values that were wrong.
 */
public final class TokenRejectedException extends Exception {

    private static final long serialVersionUID = 1L;

    /** Why a token was refused. */
    public enum Reason {
        /** Not a compact JWS JWT, or a claim has the wrong type or shape. */
        MALFORMED,
        /** The {@code alg} is not allowed ({@code none} and HS* never are) or does not fit the key. */
        ALGORITHM,
        /** No key with the token's {@code kid} is published, or the JWKS could not be read. */
        UNKNOWN_KEY,
        /** The signature does not verify with the published key. */
        SIGNATURE,
        /** The {@code iss} is not the expected issuer. */
        ISSUER,
        /** The {@code aud} is not exactly the expected audience. */
        AUDIENCE,
        /** The {@code exp} has passed (beyond the allowed skew). */
        EXPIRED,
        /** The {@code nbf} or {@code iat} is in the future (beyond the allowed skew). */
        NOT_YET_VALID,
        /** The token is bound ({@code cnf x5t#S256}) to another certificate than the caller's. */
        CNF_MISMATCH,
        /** A required claim or header is absent. */
        MISSING_CLAIM,
        /** The token, its subject or the caller's certificate has been revoked. */
        REVOKED,
        /**
         * The verifier's revocations have not been loaded once yet (it has just started), so the token
         * cannot be checked against them; retrying shortly may succeed.
         */
        REVOCATIONS_NOT_LOADED
    }

    private final Reason reason;

    public TokenRejectedException(Reason reason, String message) {
        super(Objects.requireNonNull(reason, "reason") + ": " + message);
        this.reason = reason;
    }

    public TokenRejectedException(Reason reason, String message, Throwable cause) {
        super(Objects.requireNonNull(reason, "reason") + ": " + message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
