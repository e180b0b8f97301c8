package dev.lanyard.ca;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyRotator;
import dev.lanyard.rotation.KeySlot;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationStep;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rotates the issuing intermediate with the same step machine as JWT keys ({@link KeyRotator}): a
 * next intermediate is prepared under the same root (its key made in custody) and trusted by the
 * server before it signs, becomes active at half of the current one's lifetime, and stays trusted
 * while anything it signed can live. Verifiers trust the root, so a rotation under the same root
 * changes nothing for them. {@link #refresh()} picks up another replica's steps.
 */
public final class CaRotation {

    private static final Logger LOG = LoggerFactory.getLogger(CaRotation.class);

    private final CaKeyStore store;
    private final CaGenerator generator;
    private final String trustDomain;
    private final Duration intermediateTtl;
    private final Function<IssuingCa, CertificateAuthority> authorities;
    private final Consumer<List<IssuingCa>> onTrustedChange;
    private final KeyRotator rotator;
    private final Object reloading = new Object();
    private final AtomicReference<CertificateAuthority> active = new AtomicReference<>();
    private volatile List<String> trustedIds = List.of();

    public CaRotation(CaKeyStore store, CaGenerator generator, RotationPlanner planner, Clock clock, String trustDomain,
            Duration intermediateTtl, Function<IssuingCa, CertificateAuthority> authorities,
            Consumer<List<IssuingCa>> onTrustedChange, RotationLease lease) {
        this.store = store;
        this.generator = generator;
        this.trustDomain = trustDomain;
        this.intermediateTtl = intermediateTtl;
        this.authorities = authorities;
        this.onTrustedChange = onTrustedChange;
        this.rotator = new KeyRotator(new Steps(), planner, lease, clock);
        refresh();
    }

    /** The rotation rules, for saying when each key's next step is due. */
    public RotationPlanner planner() {
        return rotator.planner();
    }

    /** The authority that signs now. */
    public CertificateAuthority active() {
        return active.get();
    }

    /** Intermediate rows, oldest first, for `lanyard keys list`. */
    public List<StoredCaKey> intermediates() {
        return store.repository().all().stream().filter(k -> k.kind() == StoredCaKey.Kind.INTERMEDIATE).toList();
    }

    /** Applies what the planner says is due now, under the lease; returns the steps taken (for the audit trail). */
    public List<RotationStep> tick() {
        List<RotationStep> taken = rotator.tick();
        refresh();
        return taken;
    }

    /** `lanyard keys rotate --x509`: one step now, or the reason it would be unsafe. */
    public Optional<String> forceStep() {
        Optional<String> refusal = rotator.forceStep();
        refresh();
        return refusal;
    }

    /** Re-reads the intermediates: what this or another replica changed (the change feed calls it). */
    public void refresh() {
        synchronized (reloading) {
            reload();
        }
    }

    /** What each rotation step means for the issuing CA. */
    private final class Steps implements KeyRotator.Keys {

        @Override
        public List<KeySlot> slots() {
            return intermediates().stream().filter(k -> k.status() != KeyStatus.DROPPED)
                    .map(k -> new KeySlot(k.id(), k.status(), k.createdAt(), k.activatedAt(), k.retiredAt()))
                    .toList();
        }

        /** Always PREPARED: the CA itself is made by {@link CaBootstrap}, so a next one never signs at once. */
        @Override
        public Optional<String> create(KeyStatus status, Instant now, Fence fence) {
            IssuingCa current = active.get().ca();
            if (!current.root().hasSigner()) {
                String why = "the root key is offline: import a new intermediate signed by it to rotate";
                LOG.warn("cannot prepare the next issuing CA: {}", why);
                return Optional.of(why);
            }
            IssuingCa next = generator.rotateIntermediate(current, trustDomain, intermediateTtl);
            store.saveIntermediate(next, KeyStatus.PREPARED);
            LOG.info("prepared the next issuing CA {}", next.intermediate().keyId());
            return Optional.empty();
        }

        @Override
        public boolean activate(String id, Instant now, Fence fence) {
            boolean activated = store.repository().activate(id, now, fence);
            if (activated) {
                LOG.info("issuing CA {} is now active", id);
            }
            return activated;
        }

        @Override
        public void retire(String id, Instant now) {
            store.repository().updateStatus(id, KeyStatus.ACTIVE, KeyStatus.RETIRED, now);
        }

        /** Kept as history (its certificate names what it signed); its key is no longer needed. */
        @Override
        public void drop(String id, Instant now) {
            store.repository().updateStatus(id, KeyStatus.RETIRED, KeyStatus.DROPPED, now);
            LOG.info("issuing CA {} dropped: everything it signed has expired", id);
        }
    }

    private void reload() {
        List<StoredCaKey> rows = intermediates();
        StoredCaKey activeRow = rows.stream().filter(k -> k.status() == KeyStatus.ACTIVE)
                .reduce((older, newer) -> newer)
                .orElseThrow(() -> new IllegalStateException("the store has no active issuing CA"));
        if (active.get() == null || !active.get().ca().intermediate().keyId().equals(activeRow.id())) {
            active.set(authorities.apply(store.load(activeRow)));
        }
        List<StoredCaKey> trusted = rows.stream().filter(k -> k.status() != KeyStatus.DROPPED).toList();
        List<String> ids = trusted.stream().map(StoredCaKey::id).toList();
        if (!ids.equals(trustedIds)) {
            trustedIds = ids;
            onTrustedChange.accept(trusted.stream().map(store::load).toList());
        }
    }
}
