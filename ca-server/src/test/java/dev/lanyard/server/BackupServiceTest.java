package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.backup.BackupFile;
import dev.lanyard.backup.SnapshotWriter;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.EmbeddedStore;
import dev.lanyard.store.JdbcRegistrationRepository;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupServiceGrpc;
import dev.lanyard.v1.CreateBackupRequest;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
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

    @Test
    void aRestoredStoreStartedWithoutItsKekRefusesOnceNamingTheKekAndMakesNoNewOne() throws Exception {
        byte[] sealed;
        String root;
        try (RunningServer old = RunningServer.start(dir.resolve("old"))) {
            root = old.server().rootFingerprint();
            sealed = backUp(old);
        }
        String kekId = KeyEncryptionKey.fromFile(dir.resolve("old").resolve("kek")).id();
        Path restored = restore(sealed, EmbeddedStore.SQLITE);

        try (LogCapture logs = new LogCapture()) {
            assertThatThrownBy(() -> RunningServer.start(restored)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("kek.file " + restored.resolve("kek") + " does not exist, and the store holds 3 private"
                            + " keys sealed under key-encryption key " + kekId + ": a new KEK could open none of them,"
                            + " so the server does not start. Copy the KEK file of the server this store comes from"
                            + " (`lanyard restore` names the KEK it needs) to " + restored.resolve("kek")
                            + " (owner-only: chmod 600), or set kek.file to it, and start again");
            assertThat(logs.lines()).as("said once, by the refusal, not logged besides")
                    .noneMatch(line -> line.contains("key-encryption key"));
        }
        assertThat(restored.resolve("kek")).as("no new KEK beside keys it cannot open").doesNotExist();

        Files.copy(dir.resolve("old").resolve("kek"), restored.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);
        try (RunningServer again = RunningServer.start(restored)) {
            assertThat(again.server().rootFingerprint()).isEqualTo(root);
        }
    }

    /**
     * The lost server went on after the backup, and its watchers with it; the store restored from the
     * backup numbers its revocations above anything the lost server handed out, so a watcher resuming
     * from where it was gets every revocation made after the restore. One past the restored store's
     * newest sequence is refused, naming both, over real gRPC.
     */
    @ParameterizedTest
    @ValueSource(strings = {"h2", "sqlite", "postgresql"})
    void aWatcherOfTheLostServerGetsEveryRevocationMadeAfterTheRestore(String target) throws Exception {
        byte[] sealed;
        Credential watcher;
        long lastSeen;
        try (RunningServer old = RunningServer.start(dir.resolve("old"))) {
            old.register(WORKLOAD);
            watcher = old.bootstrap(WORKLOAD);
            revokeJti(old, "before-the-backup");
            sealed = backUp(old);
            revokeJti(old, "lost-1");
            lastSeen = revokeJti(old, "lost-2"); // a verifier saw it, then the server was lost
        }
        assertThat(lastSeen).isEqualTo(3);

        Path restored;
        Map<String, String> config = Map.of();
        if (target.equals("postgresql")) {
            TestPostgres postgres = TestPostgres.get();
            String url = postgres.newDatabase();
            try (Database store = Database.open(url, postgres.user(), "")) {
                restoreInto(sealed, store);
            }
            restored = Files.createDirectories(dir.resolve("restored"));
            config = Map.of("database.url", url, "database.user", postgres.user());
        } else {
            restored = restore(sealed, EmbeddedStore.parse(target));
        }
        Files.copy(dir.resolve("old").resolve("kek"), restored.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);
        try (RunningServer again = RunningServer.start(restored, config)) {
            long first = revokeJti(again, "after-the-restore-1");
            long second = revokeJti(again, "after-the-restore-2");

            Iterator<RevocationEvent> resumed = RevocationServiceGrpc.newBlockingStub(again.channel(watcher))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .watchRevocations(WatchRevocationsRequest.newBuilder().setAfterSequence(lastSeen).build());
            assertThat(resumed.next().getRevoked().getTarget().getJti()).isEqualTo("after-the-restore-1");
            assertThat(resumed.next().getRevoked().getTarget().getJti()).isEqualTo("after-the-restore-2");
            RevocationEvent caughtUp = resumed.next();
            assertThat(caughtUp.hasHeartbeat()).isTrue();
            assertThat(caughtUp.getSequence()).isEqualTo(second);
            assertThat(first).as("above the lost server's sequences").isGreaterThan(lastSeen);

            Iterator<RevocationEvent> ahead = RevocationServiceGrpc.newBlockingStub(again.channel(watcher))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .watchRevocations(WatchRevocationsRequest.newBuilder().setAfterSequence(second + 1).build());
            assertThatThrownBy(ahead::next).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
                assertThat(e.getStatus().getDescription()).contains("after_sequence " + (second + 1) + " ",
                        " " + second + " ", "watch again from 0");
            });
        }
    }

    private static long revokeJti(RunningServer server, String jti) {
        return server.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(dev.lanyard.v1.RevocationTarget.newBuilder().setJti(jti))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build()).getRevocation().getSequence();
    }

    private void restoresAsTheSameCa(Map<String, String> source, EmbeddedStore target) throws Exception {
        byte[] sealed;
        Credential held;
        String root;
        try (RunningServer old = RunningServer.start(dir.resolve("old"), source)) {
            old.register(WORKLOAD);
            held = old.bootstrap(WORKLOAD);
            root = old.server().rootFingerprint();
            sealed = backUp(old);
        }
        Path restored = restore(sealed, target);
        Files.copy(dir.resolve("old").resolve("kek"), restored.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);
        // Started without database.embedded: the restored directory's own store is found and kept.
        try (RunningServer again = RunningServer.start(restored)) {
            assertThat(EmbeddedStore.of(restored, java.util.Optional.empty())).isEqualTo(target);
            assertThat(again.server().rootFingerprint()).isEqualTo(root);
            assertThat(again.renew(held).chain()).containsExactlyElementsOf(held.chain());
            again.register("spiffe://lanyard.local/ns/shop/sa/new"); // identity columns continue after the restored ids
        }
    }

    /** A backup of {@code old}'s whole store, encrypted as `lanyard backup` writes it. */
    private static byte[] backUp(RunningServer old) throws Exception {
        long chunks = 0;
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
        assertThat(chunks).isGreaterThan(10);
        return file.toByteArray();
    }

    /** A fresh data directory holding only the restored store, as `lanyard restore --data-dir` leaves it. */
    private Path restore(byte[] sealed, EmbeddedStore target) throws Exception {
        Path restored = Files.createDirectories(dir.resolve("restored"));
        try (Database store = target.open(restored)) {
            restoreInto(sealed, store);
        }
        return restored;
    }

    private static void restoreInto(byte[] sealed, Database store) throws Exception {
        SnapshotWriter.Restored done;
        try (InputStream in = BackupFile.decrypting(new ByteArrayInputStream(sealed), PASSPHRASE);
                Connection c = store.dataSource().getConnection()) {
            done = SnapshotWriter.restore(in, c, Clock.systemUTC(), "local operator " + System.getProperty("user.name"));
        }
        assertThat(done.rows()).isGreaterThan(10);
    }
}
