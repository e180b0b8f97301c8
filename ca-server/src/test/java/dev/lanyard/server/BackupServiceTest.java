package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.backup.BackupFile;
import dev.lanyard.backup.SnapshotWriter;
import dev.lanyard.credential.Credential;
import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.EmbeddedStore;
import dev.lanyard.store.JdbcRegistrationRepository;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupServiceGrpc;
import dev.lanyard.v1.CreateBackupRequest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backup of a server on one database restored into an embedded store of the other kind: the
 * snapshot is read the same way from each, and the store it restores is the same CA. (The H2 → H2
 * path, the CLI and its bad inputs are tools' BackupRestoreTest.)
 */
class BackupServiceTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/shop/sa/api";
    private static final char[] PASSPHRASE = "correct horse battery staple".toCharArray();

    @TempDir
    Path dir;

    @Test
    void aPostgresStoreRestoresIntoH2AsTheSameCa() throws Exception {
        TestPostgres postgres = TestPostgres.get();
        restoresAsTheSameCa(Map.of("database.url", postgres.newDatabase(), "database.user", postgres.user()),
                EmbeddedStore.H2);
    }

    @Test
    void anH2StoreRestoresIntoSqliteAsTheSameCa() throws Exception {
        restoresAsTheSameCa(Map.of("database.embedded", "h2"), EmbeddedStore.SQLITE);
    }

    @Test
    void anSqliteStoreRestoresIntoH2AsTheSameCa() throws Exception {
        restoresAsTheSameCa(Map.of("database.embedded", "sqlite"), EmbeddedStore.H2);
    }

    @Test
    void aSecretPastedIntoTheNoteIsRefusedAndNeverRecorded() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir.resolve("pasted"))) {
            var backups = BackupServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS);
            for (String secret : PastedSecrets.of(lanyard)) {
                PastedSecrets.refusedWithoutRepeating(() -> backups.createBackup(CreateBackupRequest.newBuilder()
                        .setNote("before the upgrade " + secret).build()).hasNext(), io.grpc.Status.Code.INVALID_ARGUMENT,
                        secret);
                PastedSecrets.assertRefusedRecord(lanyard, "backup.create", "store");
                PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
            }
        }
    }

    @Test
    void aRestoreRefusesAnSqliteStoreThatHoldsAnything() throws Exception {
        try (Database sqlite = Database.sqliteFile(dir)) {
            new JdbcRegistrationRepository(sqlite.dataSource()).create(new Registration(SpiffeId.parse(WORKLOAD),
                    List.of(), Duration.ofHours(1), Instant.now()));
            try (Connection c = sqlite.dataSource().getConnection()) {
                assertThatThrownBy(() -> SnapshotWriter.requireEmpty(c))
                        .isInstanceOf(SnapshotWriter.NotEmptyException.class)
                        .hasMessageContaining("table registrations has rows");
            }
        }
    }

    private void restoresAsTheSameCa(Map<String, String> source, EmbeddedStore target) throws Exception {
        byte[] sealed;
        Credential held;
        String root;
        long chunks = 0;
        try (RunningServer old = RunningServer.start(dir.resolve("old"), source)) {
            old.register(WORKLOAD);
            held = old.bootstrap(WORKLOAD);
            root = old.server().rootFingerprint();
            ByteArrayOutputStream file = new ByteArrayOutputStream();
            try (OutputStream out = BackupFile.encrypting(file, PASSPHRASE, new SecureRandom())) {
                Iterator<BackupChunk> stream = BackupServiceGrpc.newBlockingStub(old.channel(old.adminCredential()))
                        .withDeadlineAfter(60, TimeUnit.SECONDS).createBackup(CreateBackupRequest.getDefaultInstance());
                while (stream.hasNext()) {
                    BackupChunk chunk = stream.next();
                    if (chunk.hasHeader()) {
                        assertThat(chunk.getHeader().getTrustDomain()).isEqualTo("lanyard.local");
                        assertThat(chunk.getHeader().getCustody()).isEqualTo("software");
                        assertThat(chunk.getHeader().getKekId()).matches("[0-9a-f]{16}");
                    }
                    chunk.writeDelimitedTo(out);
                    chunks++;
                }
            }
            sealed = file.toByteArray();
        }
        assertThat(chunks).isGreaterThan(10);

        Path restored = dir.resolve("restored");
        Files.createDirectories(restored);
        SnapshotWriter.Restored done;
        try (InputStream in = BackupFile.decrypting(new ByteArrayInputStream(sealed), PASSPHRASE);
                Database store = target.open(restored); Connection c = store.dataSource().getConnection()) {
            done = SnapshotWriter.restore(in, c);
        }
        assertThat(done.rows()).isGreaterThan(10);
        Files.copy(dir.resolve("old").resolve("kek"), restored.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);
        // Started without database.embedded: the restored directory's own store is found and kept.
        try (RunningServer again = RunningServer.start(restored)) {
            assertThat(EmbeddedStore.of(restored, java.util.Optional.empty())).isEqualTo(target);
            assertThat(again.server().rootFingerprint()).isEqualTo(root);
            assertThat(again.renew(held).chain()).containsExactlyElementsOf(held.chain());
            again.register("spiffe://lanyard.local/ns/shop/sa/new"); // identity columns continue after the restored ids
        }
    }
}
