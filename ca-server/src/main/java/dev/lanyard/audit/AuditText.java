package dev.lanyard.audit;

import dev.lanyard.spiffe.SpiffeId;
import java.util.regex.Pattern;

/**
 * Makes a value from a request safe to store in the audit trail and to print: control characters
 * (newlines, ANSI escapes, bidi overrides) become visible {@code \\uXXXX} escapes, so a crafted SAN
 * cannot forge a line in `audit tail`, and the value is cut to a bound, so no request can overflow a
 * column. Idempotent: a stored value passes through unchanged.
 */
public final class AuditText {

    public static final int MAX_ACTOR = 2_048;
    public static final int MAX_ACTION = 128;
    public static final int MAX_TARGET = 1_024;
    public static final int MAX_REASON = 2_048;

    private static final Pattern TOKEN = Pattern.compile(
            "eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.|lyjt_[0-9a-f]{32}\\.[A-Za-z0-9_-]");

    private AuditText() {
    }

    /** The event as it is stored: every field escaped and bounded. */
    public static AuditEvent stored(AuditEvent e) {
        return new AuditEvent(e.time(), bounded(e.actor(), MAX_ACTOR), bounded(e.action(), MAX_ACTION),
                bounded(e.target(), MAX_TARGET), e.outcome(), bounded(e.reason(), MAX_REASON));
    }

    /**
     * A spiffe_id from a request as an audit record, an error message or a log may name it: itself
     * when it parses as a SPIFFE ID and holds no token, else only its length, so a secret pasted in its
     * place (a JWT, a join token; both fit a SPIFFE ID's path) is never repeated. Empty stays empty.
     */
    public static String spiffeId(String text) {
        if (text.isEmpty()) {
            return "";
        }
        try {
            return holdsToken(text) ? invalid("spiffe_id", text) : SpiffeId.parse(text).toString();
        } catch (IllegalArgumentException e) {
            return invalid("spiffe_id", text);
        }
    }

    /**
     * A SPIFFE ID a request names in {@code field}, or an IllegalArgumentException whose message names the
     * field and the length, never the text: one that is no SPIFFE ID, and one that holds a JWT or a join
     * token (a secret pasted into a path must be neither kept nor repeated).
     */
    public static SpiffeId parseSpiffeId(String field, String text) {
        SpiffeId id;
        try {
            id = SpiffeId.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(unnamed(field, text) + " is not a SPIFFE ID: " + e.getMessage(), e);
        }
        if (holdsToken(text)) {
            throw new IllegalArgumentException(unnamed(field, text) + " holds a JWT or a join token, which no"
                    + " record may keep; leave it out");
        }
        return id;
    }

    /** A trust domain name from a request, named as {@link #spiffeId} names a SPIFFE ID. */
    public static String trustDomain(String text) {
        if (text.isEmpty()) {
            return "";
        }
        try {
            SpiffeId.validateTrustDomain(text);
            return holdsToken(text) ? invalid("trust_domain", text) : text;
        } catch (IllegalArgumentException e) {
            return invalid("trust_domain", text);
        }
    }

    /**
     * Request text that failed its check, as a refusal may name it: the field and the length, never the
     * text, which may be a secret pasted into the wrong field. "dns_names[0] (412 characters)".
     */
    public static String unnamed(String field, String text) {
        return field + " (" + text.length() + " characters)";
    }

    /**
     * Whether free text a request carries (a note, a source name) holds a JWT or a join token: such text
     * is refused rather than recorded, whatever else may be right with it. A JWS starts with "eyJ" (a
     * JSON header); a join token is {@code lyjt_<id>.<secret>} (see {@code JoinTokens}).
     */
    public static boolean holdsToken(String text) {
        return TOKEN.matcher(text).find();
    }

    /** Request text that failed its check, as an audit target: "invalid dns_names[0] (412 characters)". */
    public static String invalid(String field, String text) {
        return "invalid " + unnamed(field, text);
    }

    /** {@code value} with control characters escaped, cut to at most {@code max} characters. */
    public static String bounded(String value, int max) {
        String escaped = escape(value);
        if (escaped.length() <= max) {
            return escaped;
        }
        String marker = "...[" + (escaped.length() - (max - 24)) + " more characters]";
        return escaped.substring(0, max - 24) + marker;
    }

    public static String escape(String value) {
        StringBuilder out = null;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (unsafe(c)) {
                if (out == null) {
                    out = new StringBuilder(value.length() + 16).append(value, 0, i);
                }
                out.append(String.format("\\u%04x", (int) c));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? value : out.toString();
    }

    private static boolean unsafe(char c) {
        return Character.isISOControl(c) || c == '\u2028' || c == '\u2029'
                || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069');
    }
}
