package dev.lanyard.token;

import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.jwk.JWK;
import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeySlot;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.LeaseLostException;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationStep;
import java.security.KeyPair;
import java.security.Provider;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JWT signing keys: rotated by {@link RotationPlanner} on every {@link #tick()}, persisted so
 * every replica agrees which key signs, private halves sealed at rest and opened once per key.
 * Steps are taken under the rotation lease, one replica at a time; {@link #refresh()} picks up
 * what another replica did.
 */
public final class JwtSigningKeys {

    private static final Logger LOG = LoggerFactory.getLogger(JwtSigningKeys.class);
    private static final Duration LEASE_WAIT = Duration.ofSeconds(10);

    /** The key that signs now, with its signer. */
    public record ActiveSigner(String kid, SigningAlgorithm algorithm, JWSSigner signer) {
    }

    private final SigningKeyRepository repository;
    private final KeySealer sealer;
    private final RotationPlanner planner;
    private final SigningAlgorithm algorithm;
    private final Provider provider;
    private final Provider fallback;
    private final Clock clock;
    private final RotationLease lease;
    private final Object reloading = new Object();
    private final Map<String, JWSSigner> signers = new ConcurrentHashMap<>();
    private final AtomicReference<List<SigningKey>> published = new AtomicReference<>(List.of());
    private final AtomicReference<Optional<ActiveSigner>> active = new AtomicReference<>(Optional.empty());

    public JwtSigningKeys(SigningKeyRepository repository, KeySealer sealer, RotationPlanner planner,
            SigningAlgorithm algorithm, Provider provider, Provider fallback, Clock clock) {
        this(repository, sealer, planner, algorithm, provider, fallback, clock,
                RotationLease.singleProcess("jwt-rotation"));
    }

    public JwtSigningKeys(SigningKeyRepository repository, KeySealer sealer, RotationPlanner planner,
            SigningAlgorithm algorithm, Provider provider, Provider fallback, Clock clock, RotationLease lease) {
        this.lease = lease;
        this.repository = repository;
        this.sealer = sealer;
        this.planner = planner;
        this.algorithm = algorithm;
        this.provider = provider;
        this.fallback = fallback;
        this.clock = clock;
    }

    /** The rotation rules, for saying when each key's next step is due. */
    public RotationPlanner planner() {
        return planner;
    }

    /**
     * Applies every step that is due, if this replica gets the rotation lease within a few seconds,
     * and reloads what other replicas may have changed. Returns the steps applied.
     */
    public List<RotationStep> tick() {
        List<RotationStep> steps = lease.whileHeld(LEASE_WAIT, fence -> {
            Instant now = clock.instant();
            List<RotationStep> due = planner.plan(slots(repository.all()), now);
            for (RotationStep step : due) {
                apply(step, now, fence);
            }
            return due;
        }).orElse(List.of());
        refresh();
        return steps;
    }

    /** `lanyard keys rotate --jwt`: one step now, or the reason it would be unsafe. */
    public Optional<String> forceStep() {
        Optional<String> refusal;
        try {
            refusal = lease.whileHeld(LEASE_WAIT, fence -> {
                Instant now = clock.instant();
                RotationPlanner.Forced forced = planner.force(slots(repository.all()), now);
                forced.step().ifPresent(step -> apply(step, now, fence));
                return forced.step().isPresent() ? Optional.<String>empty() : Optional.of(forced.refusal());
            }).orElse(Optional.of("another replica held the rotation lease for " + LEASE_WAIT.toSeconds()
                    + " s; try again"));
        } catch (LeaseLostException e) {
            refusal = Optional.of(e.getMessage());
        }
        refresh();
        return refusal;
    }

    /** Re-reads the keys: what this or another replica changed (the change feed calls it). */
    public void refresh() {
        synchronized (reloading) {
            reload();
        }
    }

    /** Prepared, active and retired-but-still-published keys, oldest first. */
    public List<SigningKey> published() {
        return published.get();
    }

    public ActiveSigner active() {
        return active.get().orElseThrow(() -> new IllegalStateException("no JWT signing key is active yet"));
    }

    private void apply(RotationStep step, Instant now, Fence fence) {
        switch (step.kind()) {
            case BOOTSTRAP -> insert(KeyStatus.ACTIVE, now, fence);
            case PREPARE -> insert(KeyStatus.PREPARED, now, fence);
            case ACTIVATE -> {
                if (repository.activate(step.keyId(), now, fence)) {
                    LOG.info("JWT signing key {} is now active", step.keyId());
                }
            }
            case RETIRE -> repository.updateStatus(step.keyId(), KeyStatus.ACTIVE, KeyStatus.RETIRED, now);
            case DROP -> {
                repository.delete(step.keyId());
                signers.remove(step.keyId());
                LOG.info("JWT signing key {} dropped: every token it signed has expired", step.keyId());
            }
        }
    }

    private void insert(KeyStatus status, Instant now, Fence fence) {
        KeyPair keys = algorithm.generate(provider, fallback);
        JWK jwk = algorithm.publicJwk(keys.getPublic());
        repository.insert(new StoredSigningKey(jwk.getKeyID(), algorithm, status, jwk.toJSONString(),
                sealer.seal(keys.getPrivate(), jwk.getKeyID()), now,
                status == KeyStatus.ACTIVE ? Optional.of(now) : Optional.empty(), Optional.empty()), fence);
        signers.put(jwk.getKeyID(), algorithm.signer(keys.getPrivate(), provider, fallback));
        LOG.info("JWT signing key {} ({}) created as {}", jwk.getKeyID(), algorithm, status);
    }

    private void reload() {
        List<StoredSigningKey> stored = repository.all();
        List<SigningKey> keys = stored.stream().map(JwtSigningKeys::toPublic).toList();
        published.set(keys);
        active.set(stored.stream().filter(k -> k.status() == KeyStatus.ACTIVE)
                .reduce((older, newer) -> newer)
                .map(k -> new ActiveSigner(k.kid(), k.algorithm(), signers.computeIfAbsent(k.kid(),
                        kid -> k.algorithm().signer(sealer.open(k.sealedPrivateKey(), kid), provider, fallback)))));
    }

    private static SigningKey toPublic(StoredSigningKey k) {
        try {
            return new SigningKey(k.kid(), k.algorithm(), k.status(), JWK.parse(k.publicJwkJson()), k.createdAt(),
                    k.activatedAt(), k.retiredAt());
        } catch (ParseException e) {
            throw new IllegalStateException("stored JWK " + k.kid() + " is unreadable", e);
        }
    }

    private static List<KeySlot> slots(List<StoredSigningKey> keys) {
        return keys.stream().map(k -> new KeySlot(k.kid(), k.status(), k.createdAt(), k.activatedAt(), k.retiredAt()))
                .toList();
    }
}
