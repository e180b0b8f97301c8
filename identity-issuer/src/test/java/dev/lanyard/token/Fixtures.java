package dev.lanyard.token;

import dev.lanyard.custody.InMemorySealedKeyRepository;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.custody.TestSealer;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.spiffe.SpiffeId;
import java.security.Provider;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/** Signing keys and minters wired the way the server wires them, with real crypto. */
final class Fixtures {

    static final Provider BC = new BouncyCastleProvider();
    static final SpiffeId CALLER = SpiffeId.parse("spiffe://example.org/ns/shop/sa/web");
    static final String ISSUER = "https://lanyard.example.org";

    private Fixtures() {
    }

    static JwtSigningKeys keys(SigningAlgorithm algorithm, RotationPolicy policy, Clock clock) {
        JwtSigningKeys keys = new JwtSigningKeys(new InMemorySigningKeyRepository(), custody(clock),
                new RotationPlanner(policy), algorithm, new SecureRandom(), clock);
        keys.tick(StepLog.unrecorded());
        return keys;
    }

    /** Software custody as the server has it, on an in-memory store and a test key-encryption key. */
    static SoftwareCustody custody(Clock clock) {
        return new SoftwareCustody(new InMemorySealedKeyRepository(), new TestSealer(), BC, BC, clock);
    }

    static RotationPolicy dailyPolicy() {
        return new RotationPolicy(Duration.ofHours(24), Duration.ofMinutes(10), Duration.ofMinutes(16));
    }

    static TokenMinter minter(JwtSigningKeys keys, Clock clock) {
        return new TokenMinter(keys, ISSUER, clock, new SecureRandom(), Duration.ofMinutes(15));
    }

    static TokenRequest request(Instant certificateNotAfter, Optional<Duration> ttl) {
        return new TokenRequest(CALLER, "payments", Set.of("payments.read", "payments.charge"), ttl,
                "thumbprint-of-the-callers-certificate", certificateNotAfter);
    }
}
