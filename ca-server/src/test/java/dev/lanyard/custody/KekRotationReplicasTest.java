package dev.lanyard.custody;

import static org.assertj.core.api.Assertions.assertThat;

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
        KekRing keks = new KekRing(configured);
        SoftwareCustody custody = new SoftwareCustody(new JdbcSealedKeyRepository(db.dataSource()),
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

            KekRotation.Outcome outcome = a.rotation().rotate(newFile, new ChangeRecord(new JdbcAuditLog(db.dataSource()),
                    new AuditEvent(Instant.now(), "admin", "keys.rotate-kek", "kek file " + newFile,
                            AuditEvent.Outcome.SUCCESS, "")));
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
}
