package dev.lanyard.console;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Console sessions, in this server's memory (a restart logs everyone out): keyed by the hash of the
 * cookie value, each with its own CSRF token and a fixed end (no sliding renewal).
 */
public final class Sessions {

    /** One logged-in admin. {@code csrf} goes into every form; the cookie value is never kept. */
    public record Session(String key, LoginLinkRepository.Grant grant, String csrf, Instant expiresAt) {
    }

    /** A new session and the cookie value that names it (shown once, to the browser). */
    public record Opened(Session session, String cookie) {
    }

    private final Clock clock;
    private final SecureRandom random;
    private final Duration ttl;
    private final Map<String, Session> open = new ConcurrentHashMap<>();

    public Sessions(Clock clock, SecureRandom random, Duration ttl) {
        this.clock = clock;
        this.random = random;
        this.ttl = ttl;
    }

    /** A session of {@code ttl}, ending sooner if the admin's certificate does. */
    public Opened open(LoginLinkRepository.Grant grant) {
        Instant now = clock.instant();
        open.values().removeIf(s -> !s.expiresAt().isAfter(now));
        String cookie = token();
        Instant end = now.plus(ttl).isAfter(grant.adminNotAfter()) ? grant.adminNotAfter() : now.plus(ttl);
        Session session = new Session(key(cookie), grant, token(), end);
        open.put(session.key(), session);
        return new Opened(session, cookie);
    }

    /** The live session a cookie value names; an expired one is forgotten. */
    public Optional<Session> find(String cookie) {
        if (cookie == null || cookie.isEmpty() || cookie.length() > 64) {
            return Optional.empty();
        }
        String key = key(cookie);
        Session session = open.get(key);
        if (session == null) {
            return Optional.empty();
        }
        if (!session.expiresAt().isAfter(clock.instant())) {
            open.remove(key);
            return Optional.empty();
        }
        return Optional.of(session);
    }

    public void close(Session session) {
        open.remove(session.key());
    }

    /** Constant-time comparison of a submitted CSRF token with the session's. */
    public static boolean csrfMatches(Session session, String submitted) {
        return submitted != null && MessageDigest.isEqual(session.csrf().getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                submitted.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    private String token() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static String key(String cookie) {
        return HexFormat.of().formatHex(LoginLinks.hash(cookie));
    }
}
