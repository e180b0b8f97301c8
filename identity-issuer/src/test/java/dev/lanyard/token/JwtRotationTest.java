package dev.lanyard.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Ten simulated days of rotation with a moved clock: tokens minted at every moment verify against
 * the JWKS a verifier holds under its cache rules, and a retired key leaves the JWKS only after
 * the last token it signed has expired.
 */
class JwtRotationTest {

    private static final Duration TICK = Duration.ofMinutes(5);
    private static final Duration CACHE = Duration.ofMinutes(10);
    private static final Duration TOKEN_TTL = Duration.ofMinutes(15);

    @Test
    void noVerificationFailsAcrossTenDaysOfRotations() throws Exception {
        Instant start = Instant.parse("2026-11-01T00:00:00Z");
        MutableClock clock = new MutableClock(start);
        // The publish lead covers the verifier's cache (10 min); retention covers the longest token (15 min) plus skew.
        RotationPolicy policy = new RotationPolicy(Duration.ofHours(24), CACHE.plus(TICK), TOKEN_TTL.plus(TICK));
        JwtSigningKeys keys = Fixtures.keys(SigningAlgorithm.ES256, policy, clock);
        TokenMinter minter = Fixtures.minter(keys, clock);

        JWKSet cached = JWKSet.parse(JwksDocument.publicJwks(keys.published()));
        Instant cachedAt = start;
        record Outstanding(String jwt, String kid, Instant expires) {
        }
        List<Outstanding> outstanding = new ArrayList<>();
        Map<String, Instant> lastExpiryByKid = new HashMap<>();
        Map<String, ECDSAVerifier> verifiers = new HashMap<>();
        int activations = 0;
        int verified = 0;
        String activeKid = keys.active().kid();

        for (Instant now = start; now.isBefore(start.plus(Duration.ofDays(10))); now = now.plus(TICK)) {
            clock.set(now);
            keys.tick(StepLog.unrecorded());
            if (!keys.active().kid().equals(activeKid)) {
                activations++;
                activeKid = keys.active().kid();
            }
            // The verifier refreshes only when its cached copy is older than the cache interval.
            if (!now.isBefore(cachedAt.plus(CACHE))) {
                cached = JWKSet.parse(JwksDocument.publicJwks(keys.published()));
                cachedAt = now;
            }
            MintedToken token = minter.mint(Fixtures.request(now.plus(Duration.ofHours(1)), Optional.of(TOKEN_TTL)));
            outstanding.add(new Outstanding(token.jwt(), token.kid(), token.expiresAt()));
            lastExpiryByKid.merge(token.kid(), token.expiresAt(), (a, b) -> a.isAfter(b) ? a : b);
            Instant at = now;
            outstanding.removeIf(o -> !o.expires().isAfter(at));
            for (Outstanding o : outstanding) {
                JWK key = cached.getKeyByKeyId(o.kid());
                assertThat(key).as("kid %s of a live token is in the verifier's cached JWKS at %s", o.kid(), now)
                        .isNotNull();
                ECDSAVerifier verifier = verifiers.computeIfAbsent(o.kid(), kid -> verifier(key));
                assertThat(SignedJWT.parse(o.jwt()).verify(verifier)).isTrue();
                verified++;
            }
            // A key leaves the published set only after its last token expired.
            List<String> publishedKids = keys.published().stream().map(SigningKey::kid).toList();
            for (var e : lastExpiryByKid.entrySet()) {
                if (!publishedKids.contains(e.getKey())) {
                    assertThat(e.getValue()).as("dropped key %s had live tokens", e.getKey()).isBeforeOrEqualTo(now);
                }
            }
        }
        assertThat(activations).isEqualTo(9);
        assertThat(verified).isGreaterThan(5_000);
        assertThat(keys.published()).extracting(SigningKey::status).doesNotHaveDuplicates()
                .contains(KeyStatus.ACTIVE);
        assertThat(keys.published().size()).isBetween(1, 3);
    }

    private static ECDSAVerifier verifier(JWK key) {
        try {
            return new ECDSAVerifier((ECKey) key);
        } catch (com.nimbusds.jose.JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void forcedRotationStillWaitsForPublication() {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-01T00:00:00Z"));
        JwtSigningKeys keys = Fixtures.keys(SigningAlgorithm.ES256, Fixtures.dailyPolicy(), clock);
        String first = keys.active().kid();
        assertThat(keys.forceStep(StepLog.unrecorded())).isEmpty();
        assertThat(keys.published()).extracting(SigningKey::status).containsExactly(KeyStatus.ACTIVE, KeyStatus.PREPARED);
        assertThat(keys.forceStep(StepLog.unrecorded())).get().asString().contains("may sign from");
        clock.advance(Duration.ofMinutes(10));
        assertThat(keys.forceStep(StepLog.unrecorded())).isEmpty();
        assertThat(keys.active().kid()).isNotEqualTo(first);
        assertThat(keys.published()).extracting(SigningKey::status).containsExactly(KeyStatus.RETIRED, KeyStatus.ACTIVE);
    }

    @Test
    void aSecondReplicaOnTheSameStoreAgreesOnTheActiveKey() {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-01T00:00:00Z"));
        InMemorySigningKeyRepository shared = new InMemorySigningKeyRepository();
        // Two processes on one store: each has its own custody object over the same sealed keys.
        var sealedKeys = new dev.lanyard.custody.InMemorySealedKeyRepository();
        var sealer = new dev.lanyard.custody.TestSealer();
        var planner = new dev.lanyard.rotation.RotationPlanner(Fixtures.dailyPolicy());
        JwtSigningKeys a = new JwtSigningKeys(shared, new dev.lanyard.custody.SoftwareCustody(sealedKeys, sealer,
                Fixtures.BC, Fixtures.BC, clock), planner, SigningAlgorithm.ES256, new java.security.SecureRandom(), clock);
        JwtSigningKeys b = new JwtSigningKeys(shared, new dev.lanyard.custody.SoftwareCustody(sealedKeys, sealer,
                Fixtures.BC, Fixtures.BC, clock), planner, SigningAlgorithm.ES256, new java.security.SecureRandom(), clock);
        a.tick(StepLog.unrecorded());
        b.tick(StepLog.unrecorded());
        assertThat(b.active().kid()).isEqualTo(a.active().kid());
        clock.advance(Duration.ofHours(24));
        a.tick(StepLog.unrecorded());
        b.tick(StepLog.unrecorded());
        a.tick(StepLog.unrecorded());
        assertThat(b.active().kid()).isEqualTo(a.active().kid());
        assertThat(shared.all()).filteredOn(k -> k.status() == KeyStatus.ACTIVE).hasSize(1);
    }

    @Test
    void aKeyDroppedByOneReplicaIsNotKeptOpenByAnother() {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-01T00:00:00Z"));
        InMemorySigningKeyRepository shared = new InMemorySigningKeyRepository();
        var sealedKeys = new dev.lanyard.custody.InMemorySealedKeyRepository();
        var sealer = new dev.lanyard.custody.TestSealer();
        var planner = new dev.lanyard.rotation.RotationPlanner(Fixtures.dailyPolicy());
        var custodyOfB = new dev.lanyard.custody.SoftwareCustody(sealedKeys, sealer, Fixtures.BC, Fixtures.BC, clock);
        JwtSigningKeys a = new JwtSigningKeys(shared, new dev.lanyard.custody.SoftwareCustody(sealedKeys, sealer,
                Fixtures.BC, Fixtures.BC, clock), planner, SigningAlgorithm.ES256, new java.security.SecureRandom(), clock);
        JwtSigningKeys b = new JwtSigningKeys(shared, custodyOfB, planner, SigningAlgorithm.ES256,
                new java.security.SecureRandom(), clock);
        a.tick(StepLog.unrecorded());
        b.refresh(); // b signs with the first key: it opened it
        String first = b.active().kid();
        String firstKey = a.custodyIds().get(first);
        assertThat(custodyOfB.signer(firstKey)).isNotNull();

        // Only a takes steps, until the first key is dropped (every token it signed has expired).
        for (int i = 0; i < 24 * 12 * 3 && a.custodyIds().containsKey(first); i++) {
            clock.advance(Duration.ofMinutes(5));
            a.tick(StepLog.unrecorded());
        }
        assertThat(a.custodyIds()).doesNotContainKey(first);
        b.refresh();
        assertThatThrownBy(() -> custodyOfB.signer(firstKey)).isInstanceOf(dev.lanyard.custody.CustodyException.class);
        assertThat(b.active().kid()).isNotEqualTo(first);
    }
}
