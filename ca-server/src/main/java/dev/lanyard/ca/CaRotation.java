package dev.lanyard.ca;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyRotator;
import dev.lanyard.rotation.KeySlot;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationStep;
import dev.lanyard.rotation.StepLog;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rotates the issuing intermediate with the same step machine as JWT keys ({@link KeyRotator}): a
 * next intermediate is prepared (made here under a root whose key is in custody, or imported after
 * an offline root signed it) and trusted by the server before it signs, becomes active at half of
 * the current one's lifetime (or of its own certificate's validity, if that is shorter), and stays
 * trusted while anything it signed can live. {@link #refresh()} picks up another replica's steps.
 *
 * <p>Roots: the trust bundle holds every root under which an intermediate is still trusted, and
 * every root added ahead of a root rotation that nothing chains to yet. A root therefore enters the
 * bundle before any intermediate under it signs, and leaves only when the last intermediate under
 * it is dropped, which is when everything that intermediate signed has expired. When the root the
 * server holds would cut the next intermediate short, the server makes a new root first. A root that
 * left the bundle (or expired before anything chained to it) is never used again: its row is marked
 * DROPPED with its record and its key destroyed, as a dropped intermediate's is.
 */
public final class CaRotation {

    private static final Logger LOG = LoggerFactory.getLogger(CaRotation.class);
    private static final Duration LEASE_WAIT = Duration.ofSeconds(10);

    private final CaKeyStore store;
    private final CaGenerator generator;
    private final String trustDomain;
    private final Duration intermediateTtl;
    private final Function<IssuingCa, CertificateAuthority> authorities;
    private final Duration rootTtl;
    private final Clock clock;
    private final BiConsumer<List<IssuingCa>, List<X509Certificate>> onTrustedChange;
    private final KeyRotator rotator;
    private final RotationLease lease;
    private final Object reloading = new Object();
    private final AtomicReference<CertificateAuthority> active = new AtomicReference<>();
    private volatile List<String> trustedIds = List.of();
    private volatile List<CaCertificate> trustedRoots = List.of();
    private volatile Set<String> newRootIds = Set.of();

    /** The CA's names and lifetimes: its trust domain, and how long new roots and intermediates live. */
    public record Settings(String trustDomain, Duration rootTtl, Duration intermediateTtl) {
    }

    /**
     * @param onTrustedChange gets the trusted CAs and the roots added ahead of anything under them
     */
    public CaRotation(CaKeyStore store, CaGenerator generator, RotationPlanner planner, Clock clock, Settings settings,
            Function<IssuingCa, CertificateAuthority> authorities,
            BiConsumer<List<IssuingCa>, List<X509Certificate>> onTrustedChange, RotationLease lease) {
        this.store = store;
        this.generator = generator;
        this.clock = clock;
        this.trustDomain = settings.trustDomain();
        this.rootTtl = settings.rootTtl();
        this.intermediateTtl = settings.intermediateTtl();
        this.authorities = authorities;
        this.onTrustedChange = onTrustedChange;
        this.rotator = new KeyRotator(new Steps(), planner, lease, clock);
        this.lease = lease;
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

    /** The roots in the trust bundle now, with their signers where the key is held here. */
    public List<CaCertificate> trustedRoots() {
        return trustedRoots;
    }

    /** The store (the offline import and root additions write to it, then call {@link #refresh()}). */
    public CaKeyStore store() {
        return store;
    }

    /**
     * The slot of an intermediate as the planner sees it: its successor takes over at the midpoint of
     * its certificate's validity if that comes before the configured lifetime (an imported certificate
     * an offline root signed for less time).
     */
    public KeySlot slot(StoredCaKey k) {
        X509Certificate certificate = store.certificate(k);
        Instant notBefore = certificate.getNotBefore().toInstant();
        Instant midpoint = notBefore.plus(Duration.between(notBefore, certificate.getNotAfter().toInstant()).dividedBy(2));
        return new KeySlot(k.id(), k.status(), k.createdAt(), k.activatedAt(), k.retiredAt(), Optional.of(midpoint));
    }

    /** Intermediate rows, oldest first, for `lanyard keys list`. */
    public List<StoredCaKey> intermediates() {
        return store.repository().all().stream().filter(k -> k.kind() == StoredCaKey.Kind.INTERMEDIATE).toList();
    }

    /** Applies what the planner says is due now, under the lease, each step recorded in {@code log}; returns the steps taken. */
    public List<RotationStep> tick(StepLog log) {
        List<RotationStep> taken = rotator.tick(log);
        dropRootsThatLeftTheBundle(log);
        destroyDroppedKeys();
        refresh();
        return taken;
    }

    /**
     * Marks DROPPED, each with its record, the roots no longer in the trust bundle; {@link
     * #destroyDroppedKeys()} then destroys their keys. Under the rotation lease: a next CA is made only
     * under it, from the rows read again there ({@link Steps#create}), so no replica can be signing a
     * next intermediate under a root while it is dropped, nor pick one dropped before.
     */
    private void dropRootsThatLeftTheBundle(StepLog log) {
        if (rootsThatLeftTheBundle().isEmpty()) {
            return;
        }
        lease.whileHeld(LEASE_WAIT, fence -> {
            Instant now = clock.instant();
            for (StoredCaKey root : rootsThatLeftTheBundle()) {
                if (log.recordWith(new RotationStep(RotationStep.Kind.DROP, "root " + root.id()),
                        () -> store.repository().updateStatus(root.id(), root.status(), KeyStatus.DROPPED, now))) {
                    LOG.info("root {} left the trust bundle: nothing that chains to it is valid any more{}", root.id(),
                            root.custodyKeyId().isPresent() ? "; its key is destroyed" : "");
                }
            }
            return true;
        });
    }

    /** Root rows not DROPPED yet that the trust bundle no longer holds: nothing will ever chain to them again. */
    private List<StoredCaKey> rootsThatLeftTheBundle() {
        List<StoredCaKey> all = store.repository().all();
        Set<String> trusted = bundleRoots(all, clock.instant()).trusted().stream().map(StoredCaKey::id)
                .collect(Collectors.toSet());
        return all.stream().filter(k -> k.kind() == StoredCaKey.Kind.ROOT && k.status() != KeyStatus.DROPPED
                && !trusted.contains(k.id())).toList();
    }

    /** Destroys the custody keys of DROPPED CAs, and finishes a drop whose key was not destroyed (the replica stopped in between). */
    private void destroyDroppedKeys() {
        store.repository().all().stream().filter(k -> k.status() == KeyStatus.DROPPED && k.custodyKeyId().isPresent())
                .forEach(store::destroyKey);
    }

    /** `lanyard keys rotate --x509`: one step now, recorded in {@code log}, or the reason it would be unsafe. */
    public Optional<String> forceStep(StepLog log) {
        Optional<String> refusal = rotator.forceStep(log);
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
            return intermediates().stream().filter(k -> k.status() != KeyStatus.DROPPED).map(CaRotation.this::slot)
                    .toList();
        }

        /** Always PREPARED: the CA itself is made by {@link CaBootstrap}, so a next one never signs at once. */
        @Override
        public Optional<String> create(KeyStatus status, Instant now, Fence fence, KeyRotator.StepWrite write) {
            // The roots as the store has them now, under the lease: never one another replica just dropped.
            refresh();
            // A root added ahead (nothing under it yet) is the one meant to sign next; else the longest-lived.
            Optional<CaCertificate> held = trustedRoots.stream().filter(CaCertificate::hasSigner)
                    .max(Comparator.comparing((CaCertificate r) -> newRootIds.contains(r.keyId()))
                            .thenComparing(r -> r.certificate().getNotAfter()));
            if (held.isEmpty()) {
                String why = "the root key is offline: run `lanyard ca prepare`, sign its CSR with the offline root"
                        + " and `lanyard ca import-intermediate` the certificate";
                LOG.warn("cannot prepare the next issuing CA: {}", why);
                return Optional.of(why);
            }
            CaCertificate root = held.get();
            // The next intermediate would be cut short: a new root, published from now, signs it.
            Optional<CaCertificate> newRoot = root.certificate().getNotAfter().toInstant().isBefore(now.plus(intermediateTtl))
                    ? Optional.of(generator.newRoot(trustDomain, rootTtl)) : Optional.empty();
            IssuingCa next = generator.intermediateUnder(newRoot.orElse(root), trustDomain, intermediateTtl);
            // saveIntermediate stores a new root with its first intermediate, in the step's one transaction, and
            // only under the lease: a replica that stalled making the keys cannot add a second next CA.
            try {
                write.store(next.intermediate().keyId(), () -> {
                    store.saveIntermediate(next, KeyStatus.PREPARED, fence);
                    return true;
                });
            } catch (RuntimeException e) {
                store.discard(next.intermediate());
                newRoot.ifPresent(store::discard);
                throw e;
            }
            newRoot.ifPresent(r -> LOG.info("root {} nears its end; made root {} to sign the next issuing CA",
                    root.keyId(), r.keyId()));
            LOG.info("prepared the next issuing CA {} under root {}", next.intermediate().keyId(),
                    newRoot.orElse(root).keyId());
            return Optional.empty();
        }

        @Override
        public boolean activate(String id, Instant now, Fence fence, KeyRotator.StepWrite write) {
            boolean activated = write.store(id, () -> store.repository().activate(id, now, fence));
            if (activated) {
                LOG.info("issuing CA {} is now active", id);
            }
            return activated;
        }

        @Override
        public boolean retire(String id, Instant now, KeyRotator.StepWrite write) {
            return write.store(id, () -> store.repository().updateStatus(id, KeyStatus.ACTIVE, KeyStatus.RETIRED, now));
        }

        /**
         * Kept as history (its certificate names what it signed); its key is destroyed after the step
         * commits, outside its transaction (an HSM call may wait): nothing it signed is still valid, and
         * it signs no more CRLs (only trusted CAs do).
         */
        @Override
        public boolean drop(String id, Instant now, KeyRotator.StepWrite write) {
            boolean dropped = write.store(id,
                    () -> store.repository().updateStatus(id, KeyStatus.RETIRED, KeyStatus.DROPPED, now));
            if (dropped) {
                store.repository().find(id).ifPresent(store::destroyKey);
                LOG.info("issuing CA {} dropped: everything it signed has expired", id);
            }
            return dropped;
        }
    }

    /** The roots in the trust bundle, and the ids of every root an intermediate (trusted or not) chains to. */
    private record BundleRoots(List<StoredCaKey> trusted, Set<String> used) {
    }

    /**
     * Which roots the trust bundle holds, from the rows alone: those a trusted intermediate chains to,
     * and those nothing chains to yet (added ahead of a root rotation) until they expire.
     */
    private BundleRoots bundleRoots(List<StoredCaKey> all, Instant now) {
        Set<String> used = new HashSet<>();
        Set<String> trustedUnder = new HashSet<>();
        for (StoredCaKey row : all) {
            if (row.kind() != StoredCaKey.Kind.INTERMEDIATE) {
                continue;
            }
            store.rootOf(row, all).ifPresent(root -> {
                used.add(root);
                if (row.status() != KeyStatus.DROPPED) {
                    trustedUnder.add(root);
                }
            });
        }
        List<StoredCaKey> roots = all.stream().filter(k -> k.kind() == StoredCaKey.Kind.ROOT)
                .filter(k -> trustedUnder.contains(k.id()) || (!used.contains(k.id()) && k.notAfter().isAfter(now)))
                .toList();
        return new BundleRoots(roots, used);
    }

    private void reload() {
        List<StoredCaKey> all = store.repository().all();
        List<StoredCaKey> rows = all.stream().filter(k -> k.kind() == StoredCaKey.Kind.INTERMEDIATE).toList();
        StoredCaKey activeRow = rows.stream().filter(k -> k.status() == KeyStatus.ACTIVE)
                .reduce((older, newer) -> newer)
                .orElseThrow(() -> new IllegalStateException("the store has no active issuing CA"));
        if (active.get() == null || !active.get().ca().intermediate().keyId().equals(activeRow.id())) {
            active.set(authorities.apply(store.load(activeRow)));
        }
        List<StoredCaKey> trusted = rows.stream().filter(k -> k.status() != KeyStatus.DROPPED).toList();
        // A CA or root dropped here or by another replica: no opened copy of its key stays in memory.
        all.stream().filter(k -> k.status() == KeyStatus.DROPPED).forEach(store::forget);
        BundleRoots bundle = bundleRoots(all, clock.instant());
        List<StoredCaKey> roots = bundle.trusted();
        Set<String> used = bundle.used();
        List<String> ids = new ArrayList<>(trusted.stream().map(StoredCaKey::id).toList());
        roots.forEach(r -> ids.add("root " + r.id()));
        if (!ids.equals(trustedIds)) {
            trustedIds = List.copyOf(ids);
            trustedRoots = roots.stream().map(store::openRoot).toList();
            newRootIds = roots.stream().map(StoredCaKey::id).filter(id -> !used.contains(id)).collect(Collectors.toSet());
            onTrustedChange.accept(trusted.stream().map(store::load).toList(), roots.stream()
                    .filter(r -> !used.contains(r.id())).map(store::certificate).toList());
        }
    }
}
