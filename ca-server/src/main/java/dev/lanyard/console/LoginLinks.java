package dev.lanyard.console;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;

/**
 * Single-use console login links: 256 random bits, valid {@link #VALIDITY}, kept only as a hash, so
 * neither the database nor the audit trail holds anything that logs in.
 */
public final class LoginLinks {

    public static final Duration VALIDITY = Duration.ofSeconds(60);

    /** A freshly minted link's secret (shown once) and when it stops working. */
    public record Minted(String secret, Instant expiresAt) {
        @Override
        public String toString() {
            return "Minted[secret=<redacted>, expiresAt=" + expiresAt + "]";
        }
    }

    private final LoginLinkRepository repository;
    private final Clock clock;
    private final SecureRandom random;

    public LoginLinks(LoginLinkRepository repository, Clock clock, SecureRandom random) {
        this.repository = repository;
        this.clock = clock;
        this.random = random;
    }

    public Minted mint(LoginLinkRepository.Grant grant) {
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String text = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        Instant now = clock.instant();
        repository.pruneExpired(now.minus(VALIDITY));
        repository.insert(hash(text), grant, now, now.plus(VALIDITY));
        return new Minted(text, now.plus(VALIDITY));
    }

    /** The grant of an unused, unexpired link; empty for anything else (and the link is used up). */
    public Optional<LoginLinkRepository.Grant> redeem(String secret) {
        if (secret.isEmpty() || secret.length() > 64) {
            return Optional.empty();
        }
        return repository.redeem(hash(secret), clock.instant());
    }

    static byte[] hash(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
