package dev.lanyard.policy;

import dev.lanyard.spiffe.SpiffeId;

/**
 * Who a grant names: one exact SPIFFE ID, or every ID strictly under a path
 * ({@code spiffe://td/ns/shop/*}), matched by whole path segments. {@code spiffe://td/*} is every
 * workload of the trust domain.
 */
record IdPattern(String trustDomain, String path, boolean prefix) {

    private static final String PREFIX = "spiffe://";
    private static final String WILDCARD = "/*";

    /** Parses a pattern; the message of the exception says what is wrong. */
    static IdPattern parse(String text) {
        boolean prefix = text.endsWith(WILDCARD);
        String base = prefix ? text.substring(0, text.length() - WILDCARD.length()) : text;
        if (base.contains("*")) {
            throw new IllegalArgumentException("'*' is allowed only as the whole last segment,"
                    + " as in spiffe://example.org/ns/shop/*");
        }
        if (prefix && base.startsWith(PREFIX) && base.indexOf('/', PREFIX.length()) < 0) {
            // spiffe://td/* has no path left to parse as an ID.
            String trustDomain = base.substring(PREFIX.length());
            SpiffeId.validateTrustDomain(trustDomain);
            return new IdPattern(trustDomain, "", true);
        }
        SpiffeId id = SpiffeId.parse(base);
        return new IdPattern(id.trustDomain(), id.path(), prefix);
    }

    boolean matches(SpiffeId caller) {
        if (!caller.trustDomain().equals(trustDomain)) {
            return false;
        }
        return prefix ? caller.path().startsWith(path + "/") : caller.path().equals(path);
    }
}
