package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcCaKeyRepository;
import dev.lanyard.store.JdbcSealedKeyRepository;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.testing.RefusedRecords;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A new CA is stored in one transaction with its audit record: without the record, no CA and no keys. */
class CaBootstrapTest {

    private final MutableClock clock = new MutableClock(Instant.now());
    private final CryptoProviders crypto = CryptoProviders.select();

    @TempDir
    Path dir;

    @Test
    void aCaWhoseRecordCannotBeStoredIsNotStoredAndItsKeysAreDestroyed() throws Exception {
        try (Database db = Database.sqliteFile(dir)) {
            SecureRandom random = new SecureRandom();
            SoftwareCustody custody = new SoftwareCustody(new JdbcSealedKeyRepository(db.dataSource()),
                    new PrivateKeySealer(KeyEncryptionKey.generateFile(dir.resolve("kek"), random), random, crypto),
                    crypto.primary(), crypto.bouncyCastle(), clock);
            CaKeyStore store = new CaKeyStore(new JdbcCaKeyRepository(db.dataSource()), custody, crypto, clock);
            CaBootstrap bootstrap = new CaBootstrap(store, RotationLease.singleProcess("ca-bootstrap"),
                    Duration.ofSeconds(10));
            CaGenerator generator = new CaGenerator(custody, clock, new SerialNumbers(random, clock));
            JdbcAuditLog audit = new JdbcAuditLog(db.dataSource());
            RefusedRecords.refuse(Database.sqlitePath(dir), "ca.generate");

            assertThatThrownBy(() -> bootstrap.loadOrCreate(
                    () -> generator.generate("example.org", Duration.ofDays(3650), Duration.ofDays(365)),
                    ca -> record(audit, ca))).hasMessageContaining("refused by the test");
            assertThat(store.loadActive()).isEmpty();
            assertThat(custody.list()).as("the new CA's keys are destroyed").isEmpty();
            assertThat(audit.recent(10)).isEmpty();

            RefusedRecords.allow(Database.sqlitePath(dir));
            CaBootstrap.Outcome made = bootstrap.loadOrCreate(
                    () -> generator.generate("example.org", Duration.ofDays(3650), Duration.ofDays(365)),
                    ca -> record(audit, ca));
            assertThat(made.created()).isTrue();
            assertThat(store.loadActive()).isPresent();
            assertThat(custody.list()).hasSize(2);
            assertThat(audit.recent(10)).extracting(AuditEvent::action).containsExactly("ca.generate");
        }
    }

    private ChangeRecord record(JdbcAuditLog audit, IssuingCa ca) {
        return new ChangeRecord(audit, new AuditEvent(clock.instant(), "lanyard", "ca.generate",
                "root " + ca.root().keyId(), AuditEvent.Outcome.SUCCESS, ""));
    }
}
