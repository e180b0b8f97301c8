package dev.lanyard.attest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.attest.AttestationException.Reason;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcJoinTokenRepository;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.JoinTokenAttestation;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JoinTokensTest {

    private static final SpiffeId ID = SpiffeId.parse("spiffe://example.org/job");

    @TempDir
    Path dir;
    Database db;
    MutableClock clock = new MutableClock(Instant.parse("2026-11-01T00:00:00Z"));
    JoinTokens tokens;

    @BeforeEach
    void open() {
        db = Database.h2File(dir);
        tokens = new JoinTokens(new JdbcJoinTokenRepository(db.dataSource()), clock, new SecureRandom());
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void verifyDoesNotConsumeRedeemDoesOnce() throws Exception {
        JoinTokens.CreatedJoinToken created = tokens.create(ID, JoinTokens.DEFAULT_TTL);
        assertThat(created.token()).matches("lyjt_[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}");
        assertThat(created.toString()).doesNotContain(created.token());
        assertThat(tokens.verify(attestation(created.token()))).isEqualTo(ID);
        assertThat(tokens.verify(attestation(created.token()))).isEqualTo(ID);
        tokens.redeem(attestation(created.token()));
        assertRefused(created.token(), Reason.USED, "already used");
    }

    @Test
    void expiresAtItsTtl() {
        String token = tokens.create(ID, Duration.ofMinutes(10)).token();
        clock.advance(Duration.ofMinutes(10));
        assertRefused(token, Reason.EXPIRED, "expired");
    }

    @Test
    void unknownIdAndWrongSecretLookTheSame() {
        String token = tokens.create(ID, JoinTokens.DEFAULT_TTL).token();
        String unknownId = "lyjt_" + "0".repeat(32) + token.substring(token.indexOf('.'));
        int i = token.length() - 5;
        String wrongSecret = token.substring(0, i) + (token.charAt(i) == 'x' ? 'y' : 'x') + token.substring(i + 1);
        assertRefused(unknownId, Reason.UNKNOWN, "join token is not known to this server");
        assertRefused(wrongSecret, Reason.UNKNOWN, "join token is not known to this server");
    }

    @Test
    void malformedAndMissingEvidence() {
        assertRefused("", Reason.MISSING, "empty");
        assertRefused("lyjt_nope", Reason.MALFORMED, "malformed");
        assertRefused("Bearer abc.def", Reason.MALFORMED, "malformed");
        assertThatThrownBy(() -> tokens.verify(Attestation.getDefaultInstance()))
                .isInstanceOfSatisfying(AttestationException.class, e -> assertThat(e.reason()).isEqualTo(Reason.MISSING));
    }

    @Test
    void ttlIsBounded() {
        assertThatThrownBy(() -> tokens.create(ID, Duration.ofHours(25))).hasMessageContaining("24 hours");
        assertThatThrownBy(() -> tokens.create(ID, Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void exactlyOneConcurrentRedeemWins() throws Exception {
        String token = tokens.create(ID, JoinTokens.DEFAULT_TTL).token();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                Callable<Boolean> redeem = () -> {
                    try {
                        tokens.redeem(attestation(token));
                        return true;
                    } catch (AttestationException e) {
                        return false;
                    }
                };
                results.add(pool.submit(redeem));
            }
            int wins = 0;
            for (Future<Boolean> result : results) {
                wins += result.get() ? 1 : 0;
            }
            assertThat(wins).isOne();
        } finally {
            pool.shutdownNow();
        }
    }

    private void assertRefused(String token, Reason reason, String message) {
        assertThatThrownBy(() -> tokens.redeem(attestation(token)))
                .isInstanceOfSatisfying(AttestationException.class, e -> {
                    assertThat(e.reason()).isEqualTo(reason);
                    if (token.contains(".")) {
                        assertThat(e.getMessage()).doesNotContain(token.substring(token.indexOf('.') + 1));
                    }
                })
                .hasMessageContaining(message);
    }

    private static Attestation attestation(String token) {
        return Attestation.newBuilder().setJoinToken(JoinTokenAttestation.newBuilder().setToken(token)).build();
    }
}
