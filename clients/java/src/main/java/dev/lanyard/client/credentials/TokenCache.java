package dev.lanyard.client.credentials;

import com.google.protobuf.Timestamp;
import com.nimbusds.jwt.JWTParser;
import dev.lanyard.client.token.Thumbprint;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tokens by (audience, scopes), reused until 30 s before they expire. A token is bound to the
 * certificate the workload held when it was minted, so an entry counts only while that is still the
 * current certificate; a renewal makes every cached token stale.
 */
final class TokenCache {

    /** Mints a token; {@link WorkloadCredentials} calls Lanyard's TokenService. */
    @FunctionalInterface
    interface Issuer {
        IssueTokenResponse issue(IssueTokenRequest request) throws CredentialException;
    }

    static final Duration REFRESH_BEFORE_EXPIRY = Duration.ofSeconds(30);
    static final int MAX_ENTRIES = 1024;

    private record Key(String audience, List<String> scopes) {
    }

    private record Entry(String token, Instant expiresAt, String boundTo) {
    }

    private final Issuer issuer;
    private final Clock clock;
    private final Map<Key, Entry> entries = new ConcurrentHashMap<>();

    TokenCache(Issuer issuer, Clock clock) {
        this.issuer = issuer;
        this.clock = clock;
    }

    String token(String audience, Set<String> scopes, X509Certificate current) throws CredentialException {
        if (audience == null || audience.isBlank()) {
            throw new IllegalArgumentException("an audience is required");
        }
        Objects.requireNonNull(scopes, "scopes");
        TreeSet<String> sorted = new TreeSet<>(scopes);
        Key key = new Key(audience, List.copyOf(sorted));
        String thumbprint = Thumbprint.x5tS256(current);
        Entry cached = entries.get(key);
        if (cached != null && usable(cached, thumbprint)) {
            return cached.token();
        }
        IssueTokenResponse response = issuer.issue(IssueTokenRequest.newBuilder()
                .setAudience(audience).addAllScopes(sorted).build());
        Entry fresh = new Entry(response.getToken(), instant(response.getExpiresAt()), boundThumbprint(response));
        if (usable(fresh, thumbprint)) {
            if (entries.size() >= MAX_ENTRIES) {
                entries.values().removeIf(e -> !usable(e, thumbprint));
            }
            entries.put(key, fresh);
        }
        return fresh.token();
    }

    void clear() {
        entries.clear();
    }

    int size() {
        return entries.size();
    }

    private boolean usable(Entry entry, String thumbprint) {
        return thumbprint.equals(entry.boundTo())
                && clock.instant().isBefore(entry.expiresAt().minus(REFRESH_BEFORE_EXPIRY));
    }

    // Our own token from an authenticated channel: read, not verified, only to learn its binding.
    private static String boundThumbprint(IssueTokenResponse response) {
        try {
            Map<String, Object> cnf = JWTParser.parse(response.getToken()).getJWTClaimsSet().getJSONObjectClaim("cnf");
            return cnf != null && cnf.get("x5t#S256") instanceof String bound ? bound : null;
        } catch (ParseException e) {
            return null;
        }
    }

    private static Instant instant(Timestamp timestamp) {
        return Instant.ofEpochSecond(timestamp.getSeconds(), timestamp.getNanos());
    }
}
