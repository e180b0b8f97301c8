package dev.lanyard.spiffe;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A SPIFFE ID, {@code spiffe://<trust-domain>/<path>}, validated per the SPIFFE ID spec:
 * lower-case trust domain, non-empty path of segments of {@code [A-Za-z0-9._-]}, no
 * {@code .}/{@code ..} segments, no query, fragment, port or user info, at most 2048 bytes.
 */
public record SpiffeId(String trustDomain, String path) {

    private static final String PREFIX = "spiffe://";
    private static final int MAX_BYTES = 2048;
    private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9._-]+");
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._-]+");

    public SpiffeId {
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(path, "path");
        validateTrustDomain(trustDomain);
        validatePath(path);
        if ((PREFIX + trustDomain + path).getBytes(StandardCharsets.UTF_8).length > MAX_BYTES) {
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
        if (!TRUST_DOMAIN.matcher(trustDomain).matches()) {
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
        for (String segment : path.substring(1).split("/", -1)) {
            if (segment.isEmpty()) {
                throw new IllegalArgumentException("SPIFFE ID path has an empty segment");
            }
            if (segment.equals(".") || segment.equals("..")) {
                throw new IllegalArgumentException("SPIFFE ID path must not contain '.' or '..' segments");
            }
            if (!SEGMENT.matcher(segment).matches()) {
                throw new IllegalArgumentException(
                        "SPIFFE ID path may hold only letters, digits, '.', '-' and '_' between slashes");
            }
        }
    }
}
