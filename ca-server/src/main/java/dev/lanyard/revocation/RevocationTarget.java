package dev.lanyard.revocation;

import dev.lanyard.spiffe.SpiffeId;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What a revocation applies to: a certificate serial (lower-case hex), a SPIFFE ID, or a token id.
 * Construct through {@link #serial}, {@link #spiffeId} or {@link #jti}, which normalise and check.
 */
public record RevocationTarget(Kind kind, String value) {

    public enum Kind { SERIAL, SPIFFE_ID, JTI }

    private static final Pattern HEX = Pattern.compile("[0-9a-f]{1,64}");
    private static final Pattern JTI = Pattern.compile("[A-Za-z0-9_-]{1,128}");

    public RevocationTarget {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(value, "value");
    }

    /** A serial as hex, any case, with optional ':' separators and leading zeros. */
    public static RevocationTarget serial(String hex) {
        String normalized = hex.replace(":", "").toLowerCase(java.util.Locale.ROOT).replaceFirst("^0+(?=.)", "");
        if (!HEX.matcher(normalized).matches()) {
            throw new IllegalArgumentException("a serial is 1 to 64 hexadecimal digits");
        }
        return new RevocationTarget(Kind.SERIAL, normalized);
    }

    /**
     * A SPIFFE ID; its trust domain is checked by the caller, which knows it. The message of a refusal
     * never repeats the text, which may be a secret pasted in the wrong field.
     */
    public static RevocationTarget spiffeId(String id) {
        try {
            return new RevocationTarget(Kind.SPIFFE_ID, SpiffeId.parse(id).toString());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("spiffe_id is not a SPIFFE ID: " + e.getMessage());
        }
    }

    /** An identity already parsed (a caller's, a registration's): no second parse on the request path. */
    public static RevocationTarget spiffeId(SpiffeId id) {
        return new RevocationTarget(Kind.SPIFFE_ID, id.toString());
    }

    public static RevocationTarget jti(String jti) {
        if (!JTI.matcher(jti).matches()) {
            throw new IllegalArgumentException("a jti is 1 to 128 characters of letters, digits, _ and -");
        }
        return new RevocationTarget(Kind.JTI, jti);
    }

    @Override
    public String toString() {
        return switch (kind) {
            case SERIAL -> "serial " + value;
            case SPIFFE_ID -> value;
            case JTI -> "jti " + value;
        };
    }
}
