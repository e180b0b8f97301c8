package dev.lanyard.custody;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KekRing;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.KeySealException;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcKekRotations;
import dev.lanyard.store.JdbcSealedKeyRepository;
import dev.lanyard.testing.LogCapture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two replicas on one database: when one rotates the KEK, the other seals with and opens under the new one. */
class KekRotationReplicasTest {

    @TempDir
    Path dir;

    private final SecureRandom random = new SecureRandom();
    private final CryptoProviders crypto = CryptoProviders.select();

    private record Replica(KekRing keks, SoftwareCustody custody, KekRotation rotation) {
    }

    private Replica replica(Database db, KeyEncryptionKey configured) {
        return replica(db, configured, new JdbcSealedKeyRepository(db.dataSource()));
    }

    private Replica replica(Database db, KeyEncryptionKey configured, SealedKeyRepository sealedKeys) {
        KekRing keks = new KekRing(configured);
        SoftwareCustody custody = new SoftwareCustody(sealedKeys,
                new PrivateKeySealer(keks, random, crypto), crypto.primary(), crypto.bouncyCastle(), Clock.systemUTC());
        KekRotation rotation = new KekRotation(keks, custody, new JdbcKekRotations(db.dataSource()), Clock.systemUTC());
        rotation.atStart();
        return new Replica(keks, custody, rotation);
    }

    @Test
    void theOtherReplicaPicksUpTheNewKekFromTheRecordedRotation() throws Exception {
        KeyEncryptionKey old = KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random);
        Path newFile = dir.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newFile, random);
        try (Database db = Database.h2File(dir)) {
            Replica a = replica(db, old);
            Replica b = replica(db, old);
            a.custody().generate("before", KeyAlgorithm.ES256);

            KekRotation.Outcome outcome = a.rotation().rotate(newFile, record(db, newFile));
            assertThat(outcome.rewrapped()).isEqualTo(1);
            a.custody().generate("made-by-a-after", KeyAlgorithm.ES256);

            // B still starts from the old KEK: it opens A's new key and seals its own under the new KEK.
            assertThat(b.custody().signer("made-by-a-after").sign(new byte[] {1})).isNotEmpty();
            b.custody().generate("made-by-b-after", KeyAlgorithm.ES384);
            assertThat(b.keks().current().id()).isEqualTo(next.id());

            // Nothing needs the old KEK any more: a server holding only the new one opens every key.
            Replica onlyNew = replica(db, next);
            for (KeyCustody.KeyEntry key : onlyNew.custody().list()) {
                assertThat(onlyNew.custody().signer(key.id()).sign(new byte[] {2})).isNotEmpty();
            }
            assertThat(onlyNew.custody().list()).hasSize(3);
        }
    }

    @Test
    void aRotationStoppedMidWayIsFinishedByAServerStartedAgainWithTheOldKekFile() throws Exception {
        KeyEncryptionKey old = KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random);
        Path newFile = dir.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newFile, random);
        try (Database db = Database.h2File(dir)) {
            // The store fails the second re-wrap, where a process killed during the rotation would stop.
            JdbcSealedKeyRepository store = new JdbcSealedKeyRepository(db.dataSource());
            AtomicInteger replaced = new AtomicInteger();
            SealedKeyRepository stopsMidWay = new Delegating(store) {
                @Override
                public boolean replaceSealed(String id, String expected, String replacement) {
                    if (replaced.incrementAndGet() == 2) {
                        throw new IllegalStateException("the process stops here");
                    }
                    return super.replaceSealed(id, expected, replacement);
                }
            };
            Replica a = replica(db, old, stopsMidWay);
            for (String id : List.of("one", "two", "three")) {
                a.custody().generate(id, KeyAlgorithm.ES256);
            }
            assertThatThrownBy(() -> a.rotation().rotate(newFile, record(db, newFile)))
                    .hasMessage("the process stops here");

            // Started again before anyone changed kek.file: the recorded rotation names the new KEK.
            Replica restarted = replica(db, old);
            assertThat(restarted.keks().current().id()).isEqualTo(next.id());
            Replica onlyNew = replica(db, next);
            for (String id : List.of("one", "two", "three")) {
                assertThat(restarted.custody().signer(id).sign(new byte[] {1})).isNotEmpty();
                assertThat(onlyNew.custody().signer(id).sign(new byte[] {2})).as("re-wrapped at the restart")
                        .isNotEmpty();
            }
            assertThat(new JdbcAuditLog(db.dataSource()).recent(10)).extracting(AuditEvent::reason)
                    .containsExactly("kek " + next.id());
        }
    }

    @Test
    void aKeySealedUnderTheOldKekAndStoredAfterTheRewrapReadTheTableIsRewrappedBeforeRotateReturns()
            throws Exception {
        KeyEncryptionKey old = KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random);
        Path newFile = dir.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newFile, random);
        try (Database db = Database.h2File(dir)) {
            JdbcSealedKeyRepository store = new JdbcSealedKeyRepository(db.dataSource());
            CountDownLatch sealedUnderOld = new CountDownLatch(1);
            CountDownLatch insertNow = new CountDownLatch(1);
            CountDownLatch stored = new CountDownLatch(1);
            // B (a CA or JWT rotation step) has sealed "late" under the old KEK; its insert waits for A's rotation.
            Replica b = replica(db, old, new Delegating(store) {
                @Override
                public boolean insert(SealedKey key) {
                    sealedUnderOld.countDown();
                    await(insertNow);
                    try {
                        return super.insert(key);
                    } finally {
                        stored.countDown();
                    }
                }
            });
            // A's re-wrap reads the table, then B's insert lands.
            AtomicBoolean rotating = new AtomicBoolean();
            Replica a = replica(db, old, new Delegating(store) {
                @Override
                public List<SealedKey> all() {
                    List<SealedKey> all = super.all();
                    if (rotating.compareAndSet(true, false)) {
                        insertNow.countDown();
                        await(stored);
                    }
                    return all;
                }
            });
            a.custody().generate("before", KeyAlgorithm.ES256);
            Thread late = new Thread(() -> b.custody().generate("late", KeyAlgorithm.ES256));
            late.start();
            sealedUnderOld.await();

            rotating.set(true);
            KekRotation.Outcome outcome = a.rotation().rotate(newFile, record(db, newFile));
            late.join();
            assertThat(outcome.rewrapped()).as("\"before\" in the first pass, \"late\" in the next").isEqualTo(2);

            // The operator retires the old KEK: every key opens with the new one alone.
            Replica onlyNew = replica(db, next);
            for (String id : List.of("before", "late")) {
                assertThat(onlyNew.custody().signer(id).sign(new byte[] {1})).as(id).isNotEmpty();
            }
        }
    }

    @Test
    void aRotationDuringWhichKeysKeepBeingSealedUnderAnotherKekFailsAndSaysWhy() throws Exception {
        KeyEncryptionKey old = KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random);
        Path newFile = dir.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newFile, random);
        try (Database db = Database.h2File(dir)) {
            JdbcSealedKeyRepository store = new JdbcSealedKeyRepository(db.dataSource());
            // A server that never looks at the rotation record (an earlier version) seals under the old KEK.
            SoftwareCustody stale = new SoftwareCustody(store, new PrivateKeySealer(old, random, crypto),
                    crypto.primary(), crypto.bouncyCastle(), Clock.systemUTC());
            AtomicBoolean rotating = new AtomicBoolean();
            AtomicInteger passes = new AtomicInteger();
            Replica a = replica(db, old, new Delegating(store) {
                @Override
                public List<SealedKey> all() {
                    List<SealedKey> all = super.all();
                    if (rotating.get()) {
                        stale.generate("stray-" + passes.incrementAndGet(), KeyAlgorithm.ES256);
                    }
                    return all;
                }
            });
            a.custody().generate("before", KeyAlgorithm.ES256);
            rotating.set(true);

            assertThatThrownBy(() -> a.rotation().rotate(newFile, record(db, newFile)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("key-encryption key rotation to " + next.id() + " did not settle")
                    .hasMessageContaining("run rotate-kek again");
            assertThat(passes.get()).as("bounded").isEqualTo(5);
            assertThat(new JdbcKekRotations(db.dataSource()).latest().orElseThrow().rewrapped())
                    .as("not recorded as finished").isZero();
        }
    }

    @Test
    void aServerStartedWithAnotherKekThanItsStoresKeysRefusesOnceSayingWhichKekItNeeds() throws Exception {
        KeyEncryptionKey sealedUnder = KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random);
        KeyEncryptionKey other = KeyEncryptionKey.generateFile(dir.resolve("kek-other"), random);
        try (Database db = Database.h2File(dir)) {
            Replica first = replica(db, sealedUnder);
            first.custody().generate("ca-key", KeyAlgorithm.ES256);
            first.custody().generate("jwt-key", KeyAlgorithm.ES256);

            // Another host's KEK file, or a restored store given the wrong one.
            try (LogCapture logs = new LogCapture()) {
                assertThatThrownBy(() -> replica(db, other)).isInstanceOf(KeySealException.class)
                        .hasMessage("2 private keys in the store [ca-key, jwt-key] are sealed under key-encryption key "
                                + sealedUnder.id() + ", which this server does not hold (it holds " + other.id()
                                + "); it cannot open them, so it does not start. Give it that KEK: kek.file set to the"
                                + " KEK file of the server this store comes from (`lanyard restore` names the KEK a"
                                + " backup needs), or the same KEK passphrase with that server's kek.salt");
                assertThat(logs.lines()).as("said once, by the refusal").noneMatch(l -> l.contains(sealedUnder.id()));
            }
            assertThat(replica(db, sealedUnder).custody().signer("ca-key").sign(new byte[] {1})).isNotEmpty();
        }
    }

    @Test
    void aReplicaThatCannotLoadTheNewKekRefusesToSealUnderTheOldOne() throws Exception {
        KeyEncryptionKey old = KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random);
        Path newFile = dir.resolve("kek-2");
        KeyEncryptionKey next = KeyEncryptionKey.generateFile(newFile, random);
        try (Database db = Database.h2File(dir)) {
            Replica a = replica(db, old);
            Replica c = replica(db, old);
            a.rotation().rotate(newFile, record(db, newFile));
            // The recorded path is on A's host; C's host has no such file.
            Path elsewhere = Files.move(newFile, dir.resolve("kek-2.on-another-host"));

            assertThatThrownBy(() -> c.custody().generate("made-by-c", KeyAlgorithm.ES256))
                    .isInstanceOf(KeySealException.class)
                    .hasMessageContaining("key-encryption key " + next.id() + " is current")
                    .hasMessageContaining("cannot load it from " + newFile.toAbsolutePath())
                    .hasMessageContaining("refusing to seal keys under the older key-encryption key " + old.id());
            assertThat(c.custody().list()).extracting(KeyCustody.KeyEntry::id).doesNotContain("made-by-c");
            assertThat(c.keks().current().id()).isEqualTo(old.id());
            // A replica starting on this host now would run without the keys rotate-kek re-wrapped: it does not start.
            // ... and says so: nothing is being sealed at start, it is the store's KEK it lacks
            assertThatThrownBy(() -> replica(db, old)).isInstanceOf(KeySealException.class)
                    .hasMessage("the store's keys are sealed (or being re-wrapped) under key-encryption key "
                            + next.id() + ", which this server does not hold: `lanyard keys rotate-kek` recorded it"
                            + " as current, and this server cannot load it from " + newFile.toAbsolutePath()
                            + " (no such file here), so it does not start. Give it that KEK: make "
                            + newFile.toAbsolutePath() + " readable here (owner-only), or set kek.file to a copy of it");

            // Once the file is there, C seals under the new KEK.
            Files.move(elsewhere, newFile);
            c.custody().generate("made-by-c", KeyAlgorithm.ES256);
            assertThat(c.keks().current().id()).isEqualTo(next.id());
            assertThat(replica(db, next).custody().signer("made-by-c").sign(new byte[] {1})).isNotEmpty();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("timed out");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The real repository, with a test's step added around one call. */
    private static class Delegating implements SealedKeyRepository {
        private final SealedKeyRepository store;

        Delegating(SealedKeyRepository store) {
            this.store = store;
        }

        @Override
        public boolean insert(SealedKey key) {
            return store.insert(key);
        }

        @Override
        public Optional<SealedKey> find(String id) {
            return store.find(id);
        }

        @Override
        public List<SealedKey> all() {
            return store.all();
        }

        @Override
        public boolean delete(String id) {
            return store.delete(id);
        }

        @Override
        public boolean replaceSealed(String id, String expected, String replacement) {
            return store.replaceSealed(id, expected, replacement);
        }
    }

    private static ChangeRecord record(Database db, Path newFile) {
        return new ChangeRecord(new JdbcAuditLog(db.dataSource()), new AuditEvent(Instant.now(), "admin",
                "keys.rotate-kek", "kek file " + newFile, AuditEvent.Outcome.SUCCESS, ""));
    }
}
