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
 * Tokens by (certificate, audience, scopes), reused until 30 s before they expire. A token is bound
 * to one certificate (its cnf is the certificate's x5t#S256) and the service called refuses it over a
 * connection presenting any other, so each is minted over a channel to Lanyard presenting the
 * certificate asked for, checked to be bound to it, and kept at most until that certificate expires.
 */
final class TokenCache {

    /** Mints a token over a channel presenting {@code svid}; {@link WorkloadCredentials} calls Lanyard's TokenService. */
    @FunctionalInterface
    interface Issuer {
        IssueTokenResponse issue(IssueTokenRequest request, Svid svid) throws CredentialException;
    }

    static final Duration REFRESH_BEFORE_EXPIRY = Duration.ofSeconds(30);
    static final int MAX_ENTRIES = 1024;

    private record Key(String thumbprint, String audience, List<String> scopes) {
    }

    /** Replaced from refreshAt on: 30 s (or a fifth of its life) before the token, or its certificate, expires. */
    private record Entry(String token, Instant refreshAt) {
    }

    private final Issuer issuer;
    private final Clock clock;
    private final Map<Key, Entry> entries = new ConcurrentHashMap<>();

    TokenCache(Issuer issuer, Clock clock) {
        this.issuer = issuer;
        this.clock = clock;
    }

    String token(String audience, Set<String> scopes, Svid svid) throws CredentialException {
        if (audience == null || audience.isBlank()) {
            throw new IllegalArgumentException("an audience is required");
        }
        Objects.requireNonNull(scopes, "scopes");
        Objects.requireNonNull(svid, "svid");
        TreeSet<String> sorted = new TreeSet<>(scopes);
        X509Certificate certificate = svid.leaf();
        String thumbprint = Thumbprint.x5tS256(certificate);
        Key key = new Key(thumbprint, audience, List.copyOf(sorted));
        Entry cached = entries.get(key);
        if (cached != null && usable(cached)) {
            return cached.token();
        }
        IssueTokenResponse response = issuer.issue(IssueTokenRequest.newBuilder()
                .setAudience(audience).addAllScopes(sorted).build(), svid);
        if (!thumbprint.equals(boundThumbprint(response))) {
            throw new CredentialException("Lanyard minted a token for " + audience + " bound to another certificate than"
                    + " serial " + svid.serialHex() + ", which the channel presented");
        }
        Instant expiresAt = instant(response.getExpiresAt());
        Instant certificateExpires = certificate.getNotAfter().toInstant();
        Instant usefulUntil = expiresAt.isAfter(certificateExpires) ? certificateExpires : expiresAt;
        Duration life = Duration.between(clock.instant(), usefulUntil);
        Duration margin = life.dividedBy(5).compareTo(REFRESH_BEFORE_EXPIRY) < 0 ? life.dividedBy(5) : REFRESH_BEFORE_EXPIRY;
        Entry fresh = new Entry(response.getToken(), usefulUntil.minus(margin));
        if (entries.size() >= MAX_ENTRIES) {
            entries.values().removeIf(e -> !usable(e));
        }
        if (entries.size() < MAX_ENTRIES) {
            entries.put(key, fresh);
        }
        return fresh.token();
    }

    int size() {
        return entries.size();
    }

    private boolean usable(Entry entry) {
        return clock.instant().isBefore(entry.refreshAt());
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
