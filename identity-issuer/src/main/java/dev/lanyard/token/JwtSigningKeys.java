package dev.lanyard.token;

import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.jwk.JWK;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Signer;
import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyRotator;
import dev.lanyard.rotation.KeySlot;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationStep;
import dev.lanyard.rotation.StepLog;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Clock;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JWT signing keys: rotated by the shared {@link KeyRotator} on every {@link #tick()}, persisted
 * so every replica agrees which key signs, the private halves held by a {@link KeyCustody} and used
 * only through its signers. {@link #refresh()} picks up what another replica did. One instance per
 * algorithm; each sees only its algorithm's keys.
 */
public final class JwtSigningKeys {

    private static final Logger LOG = LoggerFactory.getLogger(JwtSigningKeys.class);

    /** The key that signs now, with its signer. */
    public record ActiveSigner(String kid, SigningAlgorithm algorithm, JWSSigner signer) {
    }

    private final SigningKeyRepository repository;
    private final KeyCustody custody;
    private final SigningAlgorithm algorithm;
    private final SecureRandom random;
    private final KeyRotator rotator;
    private final Object reloading = new Object();
    private final Map<String, CustodyJwsSigner> signers = new ConcurrentHashMap<>();
    private final AtomicReference<List<SigningKey>> published = new AtomicReference<>(List.of());
    private final AtomicReference<Optional<ActiveSigner>> active = new AtomicReference<>(Optional.empty());

    public JwtSigningKeys(SigningKeyRepository repository, KeyCustody custody, RotationPlanner planner,
            SigningAlgorithm algorithm, SecureRandom random, Clock clock) {
        this(repository, custody, planner, algorithm, random, clock, RotationLease.singleProcess("jwt-rotation"));
    }

    public JwtSigningKeys(SigningKeyRepository repository, KeyCustody custody, RotationPlanner planner,
            SigningAlgorithm algorithm, SecureRandom random, Clock clock, RotationLease lease) {
        this.repository = repository;
        this.custody = custody;
        this.algorithm = algorithm;
        this.random = random;
        this.rotator = new KeyRotator(new Steps(), planner, lease, clock);
    }

    /** The rotation rules, for saying when each key's next step is due. */
    public RotationPlanner planner() {
        return rotator.planner();
    }

    /** Applies every step that is due (under the rotation lease), each recorded in {@code log}, and reloads; returns the steps applied. */
    public List<RotationStep> tick(StepLog log) {
        List<RotationStep> steps = rotator.tick(log);
        refresh();
        return steps;
    }

    /** `lanyard keys rotate --jwt`: one step now, recorded in {@code log}, or the reason it would be unsafe. */
    public Optional<String> forceStep(StepLog log) {
        Optional<String> refusal = rotator.forceStep(log);
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

    /** The custody id of each key, by kid (for `keys list`). */
    public Map<String, String> custodyIds() {
        Map<String, String> ids = new java.util.LinkedHashMap<>();
        repository.all().forEach(k -> ids.put(k.kid(), k.custodyKeyId()));
        return ids;
    }

    public ActiveSigner active() {
        return active.get().orElseThrow(() -> new IllegalStateException("no JWT signing key is active yet"));
    }

    /** What each rotation step means for JWT keys. */
    private final class Steps implements KeyRotator.Keys {

        @Override
        public List<KeySlot> slots() {
            return mine().stream()
                    .map(k -> new KeySlot(k.kid(), k.status(), k.createdAt(), k.activatedAt(), k.retiredAt()))
                    .toList();
        }

        @Override
        public Optional<String> create(KeyStatus status, Instant now, Fence fence, KeyRotator.StepWrite write) {
            byte[] suffix = new byte[12];
            random.nextBytes(suffix);
            Signer signer = custody.generate("jwt-" + HexFormat.of().formatHex(suffix), algorithm.keyAlgorithm());
            JWK jwk = algorithm.publicJwk(signer.publicKey());
            try {
                write.store(jwk.getKeyID(), () -> {
                    repository.insert(new StoredSigningKey(jwk.getKeyID(), algorithm, status, jwk.toJSONString(),
                            signer.id(), now, status == KeyStatus.ACTIVE ? Optional.of(now) : Optional.empty(),
                            Optional.empty()), fence);
                    return true;
                });
            } catch (RuntimeException e) {
                custody.destroy(signer.id()); // neither stored nor recorded: nothing may use it
                throw e;
            }
            signers.put(jwk.getKeyID(), new CustodyJwsSigner(signer, algorithm));
            LOG.info("JWT signing key {} ({}, {} custody) created as {}", jwk.getKeyID(), algorithm, custody.name(),
                    status);
            return Optional.empty();
        }

        @Override
        public boolean activate(String kid, Instant now, Fence fence, KeyRotator.StepWrite write) {
            boolean activated = write.store(kid, () -> repository.activate(kid, now, fence));
            if (activated) {
                LOG.info("JWT signing key {} is now active", kid);
            }
            return activated;
        }

        @Override
        public boolean retire(String kid, Instant now, KeyRotator.StepWrite write) {
            return write.store(kid, () -> repository.updateStatus(kid, KeyStatus.ACTIVE, KeyStatus.RETIRED, now));
        }

        /**
         * The custody key is destroyed first, outside the transaction (an HSM call may wait), then the row
         * goes with its record. A crash in between leaves a RETIRED row whose key is gone, which is safe:
         * only the ACTIVE key is ever opened, and the DROP stays due, so the next tick finds no key to
         * destroy and deletes the row. The other order could leave a key that no row names, for ever.
         */
        @Override
        public boolean drop(String kid, Instant now, KeyRotator.StepWrite write) {
            Optional<StoredSigningKey> row = repository.all().stream()
                    .filter(k -> k.kid().equals(kid) && k.status() == KeyStatus.RETIRED).findFirst();
            if (row.isEmpty()) {
                return false;
            }
            signers.remove(kid);
            custody.destroy(row.get().custodyKeyId());
            if (!write.store(kid, () -> repository.delete(kid))) {
                return false;
            }
            LOG.info("JWT signing key {} dropped: every token it signed has expired", kid);
            return true;
        }
    }

    private void reload() {
        List<StoredSigningKey> stored = mine();
        // A key dropped here or by another replica (its row is gone): no opened copy of it stays in memory.
        java.util.Set<String> kept = new java.util.HashSet<>(stored.stream().map(StoredSigningKey::kid).toList());
        signers.entrySet().removeIf(e -> {
            if (kept.contains(e.getKey())) {
                return false;
            }
            custody.forget(e.getValue().custodyKeyId());
            return true;
        });
        List<SigningKey> keys = stored.stream().map(JwtSigningKeys::toPublic).toList();
        published.set(keys);
        active.set(stored.stream().filter(k -> k.status() == KeyStatus.ACTIVE)
                .reduce((older, newer) -> newer)
                .map(k -> new ActiveSigner(k.kid(), k.algorithm(), signers.computeIfAbsent(k.kid(),
                        kid -> new CustodyJwsSigner(custody.signer(k.custodyKeyId()), k.algorithm())))));
    }

    /** The keys of this set's algorithm: each algorithm rotates on its own. */
    private List<StoredSigningKey> mine() {
        return repository.all().stream().filter(k -> k.algorithm() == algorithm).toList();
    }

    public SigningAlgorithm algorithm() {
        return algorithm;
    }

    private static SigningKey toPublic(StoredSigningKey k) {
        try {
            return new SigningKey(k.kid(), k.algorithm(), k.status(), JWK.parse(k.publicJwkJson()), k.createdAt(),
                    k.activatedAt(), k.retiredAt());
        } catch (ParseException e) {
            throw new IllegalStateException("stored JWK " + k.kid() + " is unreadable", e);
        }
    }
}
