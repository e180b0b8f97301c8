package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.CustodyException;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Pkcs11Custody;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.replica.DatabaseLease;
import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.LeaseLostException;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcCaKeyRepository;
import dev.lanyard.store.JdbcLeases;
import dev.lanyard.store.JdbcSealedKeyRepository;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.testing.SoftHsm;
import dev.lanyard.testing.TestCa;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The issuing CA's rotation on a real store: a next CA is stored only under the rotation lease, and a
 * dropped CA's key, or a root's once it left the trust bundle, is destroyed in custody (software, and a
 * SoftHSM2 token) and let go of by every replica.
 */
class CaRotationTest {

    private static final String TD = "example.org";
    /** Short enough that the first rotation also makes a new root (the old one would cut the next CA short). */
    private static final Duration ROOT_TTL = Duration.ofDays(400);
    private static final Duration INTERMEDIATE_TTL = Duration.ofDays(365);
    private static final Duration LEAD = Duration.ofMinutes(10);
    private static final Duration RETENTION = Duration.ofHours(2);

    private final MutableClock clock = new MutableClock(Instant.now());
    private final CryptoProviders crypto = CryptoProviders.select();
    private final SecureRandom random = new SecureRandom();

    @TempDir
    Path dir;
    Database db;
    KeyEncryptionKey kek;
    JdbcAuditLog audit;
    JdbcLeases leases;

    @BeforeEach
    void open() throws Exception {
        db = Database.sqliteFile(dir);
        kek = KeyEncryptionKey.generateFile(dir.resolve("kek"), random);
        audit = new JdbcAuditLog(db.dataSource());
        leases = new JdbcLeases(db.dataSource());
    }

    @AfterEach
    void close() {
        db.close();
    }

    /** One replica's view: its own custody object (and cache) over the shared sealed keys. */
    private record Replica(KeyCustody custody, CaKeyStore store, CaRotation rotation) {
    }

    private Replica replica(RotationLease lease) {
        return replica(lease, "software");
    }

    private Replica replica(RotationLease lease, String custodyKind) {
        KeyCustody custody = custodyKind.equals("pkcs11")
                ? Pkcs11Custody.open(new Pkcs11Custody.Settings(SoftHsm.MODULE, Optional.of(SoftHsm.token().slot()), 0,
                        SoftHsm.PIN.toCharArray()), clock)
                : new SoftwareCustody(new JdbcSealedKeyRepository(db.dataSource()),
                        new PrivateKeySealer(kek, random, crypto), crypto.primary(), crypto.bouncyCastle(), clock);
        CaKeyStore store = new CaKeyStore(new JdbcCaKeyRepository(db.dataSource()), custody, crypto, clock);
        if (store.loadActive().isEmpty()) {
            store.save(generator(custody).generate(TD, ROOT_TTL, INTERMEDIATE_TTL));
        }
        CaRotation rotation = new CaRotation(store, generator(custody),
                new RotationPlanner(new RotationPolicy(INTERMEDIATE_TTL.dividedBy(2), LEAD, RETENTION)), clock,
                new CaRotation.Settings(TD, ROOT_TTL, INTERMEDIATE_TTL), ca -> TestCa.authority(ca, clock),
                (trusted, roots) -> { }, lease);
        return new Replica(custody, store, rotation);
    }

    private CaGenerator generator(KeyCustody custody) {
        return new CaGenerator(custody, clock, new SerialNumbers(random, clock));
    }

    private DatabaseLease lease(String holder) {
        return new DatabaseLease(leases, "rotation", holder, Duration.ofMinutes(5), clock);
    }

    /** Each step recorded in the audit trail, in the transaction of its writes (as the server does). */
    private StepLog audited() {
        return (step, write) -> new ChangeRecord(audit, new AuditEvent(clock.instant(), "lanyard", "key.rotate",
                "x509 " + step.kind() + " " + step.keyId(), AuditEvent.Outcome.SUCCESS, "scheduled")).withIfChanged(write);
    }

    @Test
    void aReplicaThatLostTheLeaseWhileMakingTheNextCaStoresNothing() {
        // It took the lease, then stalled making the keys; meanwhile another replica took the lease over.
        RotationLease stalled = new RotationLease() {
            @Override
            public <T> Optional<T> whileHeld(Duration wait, Function<Fence, T> work) {
                Fence mine = leases.acquire("rotation", "stalled", clock.instant(), clock.instant().plusSeconds(300))
                        .orElseThrow();
                leases.release(mine);
                assertThat(leases.acquire("rotation", "other", clock.instant(), clock.instant().plusSeconds(300)))
                        .get().extracting(Fence::token).isEqualTo(mine.token() + 1);
                return Optional.of(work.apply(mine));
            }
        };
        Replica late = replica(stalled);
        List<StoredCaKey> before = late.store().repository().all();
        List<String> keysBefore = late.custody().list().stream().map(KeyCustody.KeyEntry::id).toList();
        clock.advance(INTERMEDIATE_TTL.dividedBy(2).minus(LEAD.dividedBy(2)));

        assertThatThrownBy(() -> late.rotation().tick(audited())).isInstanceOf(LeaseLostException.class);
        assertThat(late.store().repository().all()).as("no root, no intermediate").isEqualTo(before);
        assertThat(late.custody().list()).extracting(KeyCustody.KeyEntry::id)
                .as("the keys it made are destroyed").containsExactlyElementsOf(keysBefore);
        assertThat(audit.recent(10)).isEmpty();

        // The replica that holds the lease prepares the next CA, under a new root.
        Replica holder = replica(lease("other"));
        assertThat(holder.rotation().tick(audited())).hasSize(1);
        assertThat(holder.store().repository().all()).extracting(StoredCaKey::kind, StoredCaKey::status)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple(StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE),
                        org.assertj.core.groups.Tuple.tuple(StoredCaKey.Kind.INTERMEDIATE, KeyStatus.ACTIVE),
                        org.assertj.core.groups.Tuple.tuple(StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE),
                        org.assertj.core.groups.Tuple.tuple(StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED));
        assertThat(audit.recent(10)).extracting(AuditEvent::target).singleElement().asString()
                .startsWith("x509 PREPARE ");
    }

    @Test
    void aDroppedCasKeyIsDestroyedAndNoReplicaKeepsItOpen() {
        Replica a = replica(lease("a"));
        Replica b = replica(lease("b"));
        StoredCaKey first = a.rotation().intermediates().get(0);
        String firstKey = first.custodyKeyId().orElseThrow();
        assertThat(b.rotation().active().ca().intermediate().keyId()).as("b signs with it").isEqualTo(first.id());

        clock.advance(INTERMEDIATE_TTL.dividedBy(2).minus(LEAD.dividedBy(2)));
        a.rotation().tick(audited()); // prepare
        clock.advance(LEAD);
        a.rotation().tick(audited()); // activate; the first retires
        clock.advance(RETENTION.plusMinutes(1));
        a.rotation().tick(audited()); // drop

        StoredCaKey dropped = a.store().repository().find(first.id()).orElseThrow();
        assertThat(dropped.status()).isEqualTo(KeyStatus.DROPPED);
        assertThat(dropped.custodyKeyId()).as("its row names no key").isEmpty();
        assertThat(a.custody().list()).extracting(KeyCustody.KeyEntry::id).doesNotContain(firstKey);
        assertThatThrownBy(() -> a.custody().signer(firstKey)).isInstanceOf(CustodyException.class);

        // The other replica, which opened the key when it signed with it, lets go of it on its next reload.
        b.rotation().refresh();
        assertThatThrownBy(() -> b.custody().signer(firstKey)).isInstanceOf(CustodyException.class);
        assertThat(b.rotation().active().ca().intermediate().keyId()).isNotEqualTo(first.id());
    }

    @Test
    void aDropInterruptedBeforeItsKeyWasDestroyedIsFinishedByTheNextTick() {
        Replica a = replica(lease("a"));
        StoredCaKey first = a.rotation().intermediates().get(0);
        String firstKey = first.custodyKeyId().orElseThrow();
        clock.advance(INTERMEDIATE_TTL.dividedBy(2).minus(LEAD.dividedBy(2)));
        a.rotation().tick(audited());
        clock.advance(LEAD);
        a.rotation().tick(audited());
        // The drop step committed, and the replica stopped before it destroyed the key.
        assertThat(a.store().repository().updateStatus(first.id(), KeyStatus.RETIRED, KeyStatus.DROPPED,
                clock.instant())).isTrue();
        assertThat(a.custody().list()).extracting(KeyCustody.KeyEntry::id).contains(firstKey);

        a.rotation().tick(audited());
        assertThat(a.custody().list()).extracting(KeyCustody.KeyEntry::id).doesNotContain(firstKey);
        assertThat(a.store().repository().find(first.id()).orElseThrow().custodyKeyId()).isEmpty();
    }
    @ParameterizedTest
    @ValueSource(strings = {"software", "pkcs11"})
    void aRootThatLeftTheBundleIsDroppedWithItsRecordAndItsKeyDestroyed(String custody) {
        Replica a = replica(lease("a"), custody);
        Replica b = replica(lease("b"), custody);
        StoredCaKey oldRoot = roots(a).get(0);
        String oldRootKey = oldRoot.custodyKeyId().orElseThrow();
        assertThat(b.rotation().trustedRoots().get(0).signer().id()).as("b holds it open").isEqualTo(oldRootKey);

        // The first rotation also makes a new root (ROOT_TTL would cut the next intermediate short).
        clock.advance(INTERMEDIATE_TTL.dividedBy(2).minus(LEAD.dividedBy(2)));
        a.rotation().tick(audited());
        clock.advance(LEAD);
        a.rotation().tick(audited());
        assertThat(a.rotation().trustedRoots()).hasSize(2);
        assertThat(custodyIds(a)).contains(oldRootKey);

        clock.advance(RETENTION.plusMinutes(1));
        a.rotation().tick(audited()); // the old root's last intermediate is dropped: the root leaves the bundle
        StoredCaKey newRoot = roots(a).get(1);
        assertThat(a.rotation().trustedRoots()).extracting(CaCertificate::keyId).containsExactly(newRoot.id());
        StoredCaKey dropped = a.store().repository().find(oldRoot.id()).orElseThrow();
        assertThat(dropped.status()).isEqualTo(KeyStatus.DROPPED);
        assertThat(dropped.custodyKeyId()).as("its row names no key").isEmpty();
        assertThat(custodyIds(a)).doesNotContain(oldRootKey);
        assertThatThrownBy(() -> a.custody().signer(oldRootKey)).isInstanceOf(CustodyException.class);
        assertThat(audit.recent(20)).extracting(AuditEvent::target).containsOnlyOnce("x509 DROP root " + oldRoot.id());

        // The other replica lets go of it, and finds nothing left to drop.
        b.rotation().tick(audited());
        assertThatThrownBy(() -> b.custody().signer(oldRootKey)).isInstanceOf(CustodyException.class);
        assertThat(b.rotation().trustedRoots()).extracting(CaCertificate::keyId).containsExactly(newRoot.id());
        assertThat(audit.recent(20)).extracting(AuditEvent::target).containsOnlyOnce("x509 DROP root " + oldRoot.id());
        assertThat(a.store().repository().find(newRoot.id()).orElseThrow().status()).isEqualTo(KeyStatus.ACTIVE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"software", "pkcs11"})
    void aRootDropThatStoppedHalfWayIsFinishedAndAReplicaStartsMeanwhile(String custody) {
        Replica a = replica(lease("a"), custody);
        StoredCaKey first = a.rotation().intermediates().get(0);
        StoredCaKey oldRoot = roots(a).get(0);
        String oldRootKey = oldRoot.custodyKeyId().orElseThrow();
        clock.advance(INTERMEDIATE_TTL.dividedBy(2).minus(LEAD.dividedBy(2)));
        a.rotation().tick(audited());
        clock.advance(LEAD);
        a.rotation().tick(audited());
        clock.advance(RETENTION.plusMinutes(1));

        // What a replica that stopped in the middle leaves: both rows DROPPED, the root's key destroyed,
        // and its row still naming it.
        CaKeyRepository rows = a.store().repository();
        assertThat(rows.updateStatus(first.id(), KeyStatus.RETIRED, KeyStatus.DROPPED, clock.instant())).isTrue();
        assertThat(rows.updateStatus(oldRoot.id(), KeyStatus.ACTIVE, KeyStatus.DROPPED, clock.instant())).isTrue();
        assertThat(a.custody().destroy(oldRootKey)).isTrue();

        // A replica starting now loads its CA without opening the dropped root's key.
        Replica c = replica(lease("c"), custody);
        assertThat(c.rotation().active().ca().root().keyId()).isNotEqualTo(oldRoot.id());
        c.rotation().tick(audited());
        assertThat(rows.find(oldRoot.id()).orElseThrow().custodyKeyId()).isEmpty();
        assertThat(rows.find(first.id()).orElseThrow().custodyKeyId()).isEmpty();
        assertThat(custodyIds(c)).doesNotContain(oldRootKey, first.custodyKeyId().orElseThrow());
        assertThat(audit.recent(20)).extracting(AuditEvent::target).as("recorded when it was dropped, not again")
                .noneMatch(t -> t.startsWith("x509 DROP root"));
    }

    @Test
    void aRootAddedAheadThatExpiredUnusedIsDroppedAndItsKeyDestroyed() {
        Replica a = replica(lease("a"));
        CaCertificate ahead = generator(a.custody()).newRoot(TD, Duration.ofDays(2));
        a.store().saveRoot(ahead);
        a.rotation().refresh();
        assertThat(a.rotation().trustedRoots()).extracting(CaCertificate::keyId).contains(ahead.keyId());

        a.rotation().tick(audited());
        assertThat(custodyIds(a)).as("not expired yet: kept").contains(ahead.signer().id());
        clock.advance(Duration.ofDays(3));
        a.rotation().tick(audited());
        assertThat(a.rotation().trustedRoots()).extracting(CaCertificate::keyId).doesNotContain(ahead.keyId());
        assertThat(custodyIds(a)).doesNotContain(ahead.signer().id());
        assertThat(a.store().repository().find(ahead.keyId()).orElseThrow().status()).isEqualTo(KeyStatus.DROPPED);
        assertThat(audit.recent(20)).extracting(AuditEvent::target).containsOnlyOnce("x509 DROP root " + ahead.keyId());
    }

    private static List<StoredCaKey> roots(Replica replica) {
        return replica.store().repository().all().stream().filter(k -> k.kind() == StoredCaKey.Kind.ROOT).toList();
    }

    private static List<String> custodyIds(Replica replica) {
        return replica.custody().list().stream().map(KeyCustody.KeyEntry::id).toList();
    }
}
