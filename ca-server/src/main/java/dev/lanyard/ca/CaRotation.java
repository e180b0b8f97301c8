package dev.lanyard.ca;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeySlot;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.LeaseLostException;
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
 * Rotates the issuing intermediate with the same planner as JWT keys: a next intermediate is
 * prepared under the same root and trusted by the server before it signs, becomes active at
 * half of the current one's lifetime, and stays trusted while anything it signed can live.
 * Verifiers trust the root, so a rotation under the same root changes nothing for them. Steps are
 * taken under the rotation lease, one replica at a time; {@link #refresh()} picks up another's.
 */
public final class CaRotation {

    private static final Logger LOG = LoggerFactory.getLogger(CaRotation.class);
    private static final Duration LEASE_WAIT = Duration.ofSeconds(10);

    private final CaKeyStore store;
    private final CaGenerator generator;
    private final RotationPlanner planner;
    private final Clock clock;
    private final String trustDomain;
    private final Duration intermediateTtl;
    private final Function<IssuingCa, CertificateAuthority> authorities;
    private final Consumer<List<IssuingCa>> onTrustedChange;
    private final RotationLease lease;
    private final Object reloading = new Object();
    private final AtomicReference<CertificateAuthority> active = new AtomicReference<>();
    private volatile List<String> trustedIds = List.of();

    public CaRotation(CaKeyStore store, CaGenerator generator, RotationPlanner planner, Clock clock, String trustDomain,
            Duration intermediateTtl, Function<IssuingCa, CertificateAuthority> authorities,
            Consumer<List<IssuingCa>> onTrustedChange, RotationLease lease) {
        this.lease = lease;
        this.store = store;
        this.generator = generator;
        this.planner = planner;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.intermediateTtl = intermediateTtl;
        this.authorities = authorities;
        this.onTrustedChange = onTrustedChange;
        refresh();
    }

    /** The rotation rules, for saying when each key's next step is due. */
    public RotationPlanner planner() {
        return planner;
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
        List<RotationStep> taken = lease.whileHeld(LEASE_WAIT, fence -> {
            Instant now = clock.instant();
            List<RotationStep> applied = new java.util.ArrayList<>();
            for (RotationStep step : planner.plan(slots(), now)) {
                if (apply(step, now, fence).isEmpty()) {
                    applied.add(step);
                }
            }
            return applied;
        }).orElse(List.of());
        refresh();
        return taken;
    }

    /** `lanyard keys rotate --x509`: one step now, or the reason it would be unsafe. */
    public Optional<String> forceStep() {
        Optional<String> refusal;
        try {
            refusal = lease.whileHeld(LEASE_WAIT, fence -> {
                RotationPlanner.Forced forced = planner.force(slots(), clock.instant());
                if (forced.step().isEmpty()) {
                    return Optional.of(forced.refusal());
                }
                return apply(forced.step().get(), clock.instant(), fence);
            }).orElse(Optional.of("another replica held the rotation lease for " + LEASE_WAIT.toSeconds()
                    + " s; try again"));
        } catch (LeaseLostException e) {
            refusal = Optional.of(e.getMessage());
        }
        refresh();
        return refusal;
    }

    /** Re-reads the intermediates: what this or another replica changed (the change feed calls it). */
    public void refresh() {
        synchronized (reloading) {
            reload();
        }
    }

    private Optional<String> apply(RotationStep step, Instant now, Fence fence) {
        CaKeyRepository repository = store.repository();
        switch (step.kind()) {
            case BOOTSTRAP, PREPARE -> {
                IssuingCa current = active.get().ca();
                if (!current.root().hasPrivateKey()) {
                    String why = "the root key is offline: import a new intermediate signed by it to rotate";
                    LOG.warn("cannot prepare the next issuing CA: {}", why);
                    return Optional.of(why);
                }
                IssuingCa next = generator.rotateIntermediate(current, trustDomain, intermediateTtl);
                store.saveIntermediate(next, StoredCaKey.Status.PREPARED);
                LOG.info("prepared the next issuing CA {}", next.intermediate().keyId());
            }
            case ACTIVATE -> {
                if (repository.activate(step.keyId(), now, fence)) {
                    LOG.info("issuing CA {} is now active", step.keyId());
                }
            }
            case RETIRE -> repository.updateStatus(step.keyId(), StoredCaKey.Status.ACTIVE, StoredCaKey.Status.RETIRED,
                    now);
            case DROP -> {
                repository.updateStatus(step.keyId(), StoredCaKey.Status.RETIRED, StoredCaKey.Status.DROPPED, now);
                LOG.info("issuing CA {} dropped: everything it signed has expired", step.keyId());
            }
        }
        return Optional.empty();
    }

    private void reload() {
        List<StoredCaKey> rows = intermediates();
        StoredCaKey activeRow = rows.stream().filter(k -> k.status() == StoredCaKey.Status.ACTIVE)
                .reduce((older, newer) -> newer)
                .orElseThrow(() -> new IllegalStateException("the store has no active issuing CA"));
        if (active.get() == null || !active.get().ca().intermediate().keyId().equals(activeRow.id())) {
            active.set(authorities.apply(store.load(activeRow)));
        }
        List<StoredCaKey> trusted = rows.stream().filter(k -> k.status() != StoredCaKey.Status.DROPPED).toList();
        List<String> ids = trusted.stream().map(StoredCaKey::id).toList();
        if (!ids.equals(trustedIds)) {
            trustedIds = ids;
            onTrustedChange.accept(trusted.stream().map(store::load).toList());
        }
    }

    private List<KeySlot> slots() {
        return intermediates().stream().filter(k -> k.status() != StoredCaKey.Status.DROPPED)
                .map(k -> new KeySlot(k.id(), KeyStatus.valueOf(k.status().name()), k.createdAt(), k.activatedAt(),
                        k.retiredAt()))
                .toList();
    }
}
