package dev.lanyard.contract;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Whether a token for an audience may carry the requested scopes according to the contracts.
 * Anything but {@link Outcome#OK} is a malformed request (INVALID_ARGUMENT); {@code reason} says
 * why in words a caller can act on, and names the undeclared scopes.
 */
public record TokenScopeCheck(Outcome outcome, String reason, Set<String> undeclaredScopes) {

    public enum Outcome {
        OK,
        /** No audience was named. */
        NO_AUDIENCE,
        /** No published contract declares the audience. */
        UNKNOWN_AUDIENCE,
        /** The request named no scopes: such a token could call nothing. */
        NO_SCOPES,
        /** Some scopes are required by no method of the audience. */
        UNDECLARED_SCOPES
    }

    public TokenScopeCheck {
        undeclaredScopes = Collections.unmodifiableSet(new LinkedHashSet<>(undeclaredScopes));
    }

    public boolean ok() {
        return outcome == Outcome.OK;
    }

    static TokenScopeCheck allowed() {
        return new TokenScopeCheck(Outcome.OK, "", Set.of());
    }

    static TokenScopeCheck refused(Outcome outcome, String reason) {
        return new TokenScopeCheck(outcome, reason, Set.of());
    }
}
