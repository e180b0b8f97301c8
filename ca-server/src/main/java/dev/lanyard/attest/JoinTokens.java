package dev.lanyard.attest;

import dev.lanyard.attest.AttestationException.Reason;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.Attestation;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One-time join tokens: {@code lyjt_<id>.<secret>}. The id finds the record; only SHA-256 of the
 * secret is stored and it is compared in constant time. Single use, expiring.
 */
public final class JoinTokens implements Attestor {

    public static final Duration DEFAULT_TTL = Duration.ofMinutes(10);
    public static final Duration MAX_TTL = Duration.ofHours(24);

    private static final String PREFIX = "lyjt_";
    private static final Pattern FORMAT = Pattern.compile("lyjt_([0-9a-f]{32})\\.([A-Za-z0-9_-]{43})");
    /** The same words for an unknown id and a wrong secret, so ids cannot be probed. */
    private static final String UNKNOWN = "join token is not known to this server";

    /** A token as handed to the admin: shown once. {@link #toString()} hides it. */
    public record CreatedJoinToken(String token, SpiffeId spiffeId, Instant expiresAt) {
        @Override
        public String toString() {
            return "CreatedJoinToken[" + spiffeId + ", expires " + expiresAt + ", token hidden]";
        }
    }

    private final JoinTokenRepository repository;
    private final Clock clock;
    private final SecureRandom random;

    public JoinTokens(JoinTokenRepository repository, Clock clock, SecureRandom random) {
        this.repository = repository;
        this.clock = clock;
        this.random = random;
    }

    /** A token for a node agent: it attests {@code spiffe://TD/lanyard/agent/join_token/<token id>}. */
    public CreatedJoinToken createForAgent(String trustDomain, Duration ttl) {
        byte[] id = new byte[16];
        random.nextBytes(id);
        String idHex = HexFormat.of().formatHex(id);
        return create(idHex, SpiffeId.of(trustDomain, "/lanyard/agent/join_token/" + idHex), ttl);
    }

    public CreatedJoinToken create(SpiffeId spiffeId, Duration ttl) {
        byte[] id = new byte[16];
        random.nextBytes(id);
        return create(HexFormat.of().formatHex(id), spiffeId, ttl);
    }

    private CreatedJoinToken create(String idHex, SpiffeId spiffeId, Duration ttl) {
        if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) {
            throw new IllegalArgumentException("a join token lives between 1 second and 24 hours");
        }
        byte[] secret = new byte[32];
        random.nextBytes(secret);
        String secretText = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        Instant now = clock.instant();
        repository.insert(new StoredJoinToken(idHex, sha256(secretText), spiffeId, now, now.plus(ttl),
                Optional.empty()));
        return new CreatedJoinToken(PREFIX + idHex + "." + secretText, spiffeId, now.plus(ttl));
    }

    @Override
    public SpiffeId verify(Attestation attestation) throws AttestationException {
        return verifyToken(tokenOf(attestation));
    }

    @Override
    public void redeem(Attestation attestation) throws AttestationException {
        redeemToken(tokenOf(attestation));
    }

    /** The SPIFFE ID a token attests, without using it. */
    public SpiffeId verifyToken(String token) throws AttestationException {
        return check(token).spiffeId();
    }

    /** Uses the token, atomically: a second use fails. */
    public void redeemToken(String text) throws AttestationException {
        StoredJoinToken token = check(text);
        if (!repository.markUsed(token.id(), clock.instant())) {
            throw new AttestationException(Reason.USED, "join token was already used");
        }
    }

    private static String tokenOf(Attestation attestation) throws AttestationException {
        if (attestation.getKindCase() == Attestation.KindCase.KIND_NOT_SET) {
            throw new AttestationException(Reason.MISSING, "attestation is missing; send a join token");
        }
        if (attestation.getKindCase() != Attestation.KindCase.JOIN_TOKEN) {
            throw new AttestationException(Reason.UNSUPPORTED_KIND, "attestation kind " + attestation.getKindCase()
                    + " is for node agents (AgentService.AttestAgent); a workload bootstraps with a join token");
        }
        return attestation.getJoinToken().getToken();
    }

    private StoredJoinToken check(String text) throws AttestationException {
        if (text.isEmpty()) {
            throw new AttestationException(Reason.MISSING, "join token is empty");
        }
        var match = FORMAT.matcher(text);
        if (!match.matches()) {
            throw new AttestationException(Reason.MALFORMED, "join token is malformed; expected lyjt_<id>.<secret>");
        }
        StoredJoinToken stored = repository.find(match.group(1))
                .orElseThrow(() -> new AttestationException(Reason.UNKNOWN, UNKNOWN));
        if (!MessageDigest.isEqual(stored.secretHash(), sha256(match.group(2)))) {
            throw new AttestationException(Reason.UNKNOWN, UNKNOWN);
        }
        if (stored.usedAt().isPresent()) {
            throw new AttestationException(Reason.USED, "join token was already used");
        }
        if (!clock.instant().isBefore(stored.expiresAt())) {
            throw new AttestationException(Reason.EXPIRED, "join token has expired");
        }
        return stored;
    }

    private static byte[] sha256(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
