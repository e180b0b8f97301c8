package dev.lanyard.contract;

import dev.lanyard.spiffe.SpiffeId;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The rules for scope and audience names, shared by contracts and the grants policy so that a
 * name one accepts the other accepts too.
 */
public final class ContractNames {

    public static final int MAX_SCOPE_LENGTH = 128;
    public static final int MAX_AUDIENCE_LENGTH = 255;

    // The older, looser rule: only what a stored contract or policy must meet to load (see below).
    private static final Pattern SCOPE = Pattern.compile("[a-z][a-z0-9_]*([.:][a-z0-9_]+)*");
    /**
     * The scope rule of every client verifier (Go verify, Java ClaimsCheck and ContractOptions, Rust
     * verify: {@code [a-z0-9]+([._:][a-z0-9]+)*}), starting with a letter as {@link #SCOPE} does. A name
     * {@link #SCOPE} allows and this does not ("foo_", "a__b") gives tokens no verifier accepts: new
     * contracts, policies (applied or from a policy file) and token requests are held to it, through
     * {@link #unverifiableScope} alone, while names stored before it keep loading.
     */
    private static final Pattern VERIFIABLE_SCOPE = Pattern.compile("[a-z][a-z0-9]*([._:][a-z0-9]+)*");
    // A stable name ("payments", "billing-api.v2"); anything starting with spiffe:// must be a SPIFFE ID.
    private static final Pattern STABLE_AUDIENCE = Pattern.compile("[a-z][a-z0-9._-]*");
    private static final int QUOTE_LIMIT = 80;

    private ContractNames() {
    }

    /** Why {@code scope} is not a well-formed scope name, or empty if it is. */
    public static Optional<String> scopeProblem(String scope) {
        if (scope.isEmpty()) {
            return Optional.of("scope is empty");
        }
        if (scope.length() > MAX_SCOPE_LENGTH) {
            return Optional.of("scope " + quote(scope) + " is longer than " + MAX_SCOPE_LENGTH + " characters");
        }
        if (!SCOPE.matcher(scope).matches()) {
            return Optional.of("scope " + quote(scope) + " is not well formed: use lower-case words of"
                    + " [a-z0-9_], starting with a letter, joined by '.' or ':' (for example \"payments.charge\")");
        }
        return Optional.empty();
    }

    /**
     * Why {@code scope}, named by a request's {@code field}, is not a scope every client verifier accepts,
     * or empty if it is. The message names the field and the length, never the text (it may be a secret
     * pasted into the wrong field).
     */
    public static Optional<String> unverifiableScope(String field, String scope) {
        if (scope.length() <= MAX_SCOPE_LENGTH && VERIFIABLE_SCOPE.matcher(scope).matches()) {
            return Optional.empty();
        }
        return Optional.of(field + " (" + scope.length() + " characters) is not a scope name every verifier"
                + " accepts: at most " + MAX_SCOPE_LENGTH + " characters, lower-case words of [a-z0-9] starting"
                + " with a letter, joined by '.', ':' or '_' (for example \"payments.charge\")");
    }

    /** How many of {@code scopes} pass {@link #scopeProblem} but not {@link #unverifiableScope} (stored before it). */
    public static long unverifiableCount(java.util.Collection<String> scopes) {
        return scopes.stream().filter(s -> unverifiableScope("scope", s).isPresent()).count();
    }

    /** Why {@code audience} is not a valid audience (a SPIFFE ID or a stable name), or empty if it is. */
    public static Optional<String> audienceProblem(String audience) {
        if (audience.isEmpty()) {
            return Optional.of("audience is empty");
        }
        if (audience.length() > MAX_AUDIENCE_LENGTH) {
            return Optional.of("audience " + quote(audience) + " is longer than " + MAX_AUDIENCE_LENGTH + " characters");
        }
        if (audience.startsWith("spiffe://")) {
            try {
                SpiffeId.parse(audience);
                return Optional.empty();
            } catch (IllegalArgumentException e) {
                return Optional.of("audience " + quote(audience) + " is not a valid SPIFFE ID: " + e.getMessage());
            }
        }
        if (!STABLE_AUDIENCE.matcher(audience).matches()) {
            return Optional.of("audience " + quote(audience) + " is neither a SPIFFE ID nor a stable name"
                    + " (lower-case letters, digits, '.', '-' and '_', starting with a letter)");
        }
        return Optional.empty();
    }

    /**
     * Quotes a value taken from input for an error message: control characters escaped, long
     * values cut, so a hostile value cannot forge log lines or flood them.
     */
    public static String quote(String value) {
        StringBuilder out = new StringBuilder("\"");
        int limit = Math.min(value.length(), QUOTE_LIMIT);
        for (int i = 0; i < limit; i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        if (value.length() > limit) {
            out.append("...");
        }
        return out.append('"').toString();
    }
}
