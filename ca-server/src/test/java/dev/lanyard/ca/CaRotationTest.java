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

/**
 * The issuing CA's rotation on a real store: a next CA is stored only under the rotation lease, and a
 * dropped CA's key is destroyed in custody and let go of by every replica.
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
    private record Replica(SoftwareCustody custody, CaKeyStore store, CaRotation rotation) {
    }

    private Replica replica(RotationLease lease) {
        SoftwareCustody custody = new SoftwareCustody(new JdbcSealedKeyRepository(db.dataSource()),
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
}
