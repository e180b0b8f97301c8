package dev.lanyard.spiffe;

import java.net.URI;
import java.util.Objects;

/**
 * A SPIFFE ID, {@code spiffe://<trust-domain>/<path>}, validated per the SPIFFE ID spec:
 * lower-case trust domain, non-empty path of segments of {@code [A-Za-z0-9._-]}, no
 * {@code .}/{@code ..} segments, no query, fragment, port or user info, at most 2048 bytes.
 */
public record SpiffeId(String trustDomain, String path) {

    private static final String PREFIX = "spiffe://";
    private static final int MAX_BYTES = 2048;

    public SpiffeId {
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(path, "path");
        validateTrustDomain(trustDomain);
        validatePath(path);
        // Both parts are ASCII once validated: one byte per character.
        if (PREFIX.length() + trustDomain.length() + path.length() > MAX_BYTES) {
            throw new IllegalArgumentException("SPIFFE ID is longer than " + MAX_BYTES + " bytes");
        }
    }

    /** Parses {@code spiffe://td/path}; the message of the exception says what is wrong. */
    public static SpiffeId parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("SPIFFE ID is empty");
        }
        if (!text.startsWith(PREFIX)) {
            throw new IllegalArgumentException("SPIFFE ID must start with spiffe://");
        }
        String rest = text.substring(PREFIX.length());
        int slash = rest.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("SPIFFE ID has no path (a bare trust domain names no workload)");
        }
        return new SpiffeId(rest.substring(0, slash), rest.substring(slash));
    }

    public static SpiffeId of(String trustDomain, String path) {
        return new SpiffeId(trustDomain, path.startsWith("/") ? path : "/" + path);
    }

    public boolean isMemberOf(String domain) {
        return trustDomain.equals(domain);
    }

    public URI toUri() {
        return URI.create(toString());
    }

    @Override
    public String toString() {
        return PREFIX + trustDomain + path;
    }

    /** Validates a bare trust domain name, as used in configuration. */
    public static void validateTrustDomain(String trustDomain) {
        if (trustDomain.isEmpty()) {
            throw new IllegalArgumentException("SPIFFE ID trust domain is empty");
        }
        if (!allOf(trustDomain, 0, trustDomain.length(), false)) {
            throw new IllegalArgumentException(
                    "SPIFFE ID trust domain may hold only lower-case letters, digits, '.', '-' and '_'");
        }
    }

    private static void validatePath(String path) {
        if (path.isEmpty() || path.equals("/")) {
            throw new IllegalArgumentException("SPIFFE ID has no path (a bare trust domain names no workload)");
        }
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("SPIFFE ID path must start with '/'");
        }
        if (path.endsWith("/")) {
            throw new IllegalArgumentException("SPIFFE ID path must not end with '/'");
        }
        // Segment by segment without a regular expression: every request parses its caller's ID.
        for (int start = 1; start <= path.length(); ) {
            int end = path.indexOf('/', start);
            if (end < 0) {
                end = path.length();
            }
            int length = end - start;
            if (length == 0) {
                throw new IllegalArgumentException("SPIFFE ID path has an empty segment");
            }
            if (path.charAt(start) == '.' && (length == 1 || length == 2 && path.charAt(start + 1) == '.')) {
                throw new IllegalArgumentException("SPIFFE ID path must not contain '.' or '..' segments");
            }
            if (!allOf(path, start, end, true)) {
                throw new IllegalArgumentException(
                        "SPIFFE ID path may hold only letters, digits, '.', '-' and '_' between slashes");
            }
            start = end + 1;
        }
    }

    /** Whether {@code text[start, end)} holds only [a-z0-9._-], and [A-Z] too when {@code upper}. */
    private static boolean allOf(String text, int start, int end, boolean upper) {
        for (int i = start; i < end; i++) {
            char c = text.charAt(i);
            boolean ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
                    || upper && c >= 'A' && c <= 'Z';
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
