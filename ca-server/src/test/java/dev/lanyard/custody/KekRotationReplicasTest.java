package dev.lanyard.custody;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KekRing;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcKekRotations;
import dev.lanyard.store.JdbcSealedKeyRepository;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
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
            SealedKeyRepository stopsMidWay = new SealedKeyRepository() {
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
                    if (replaced.incrementAndGet() == 2) {
                        throw new IllegalStateException("the process stops here");
                    }
                    return store.replaceSealed(id, expected, replacement);
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

    private static ChangeRecord record(Database db, Path newFile) {
        return new ChangeRecord(new JdbcAuditLog(db.dataSource()), new AuditEvent(Instant.now(), "admin",
                "keys.rotate-kek", "kek file " + newFile, AuditEvent.Outcome.SUCCESS, ""));
    }
}
