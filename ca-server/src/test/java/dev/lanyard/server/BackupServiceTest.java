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
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
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

    /**
     * The lost server went on after the backup, and its watchers with it; the store restored from the
     * backup numbers its revocations above anything the lost server handed out, so a watcher resuming
     * from where it was gets every revocation made after the restore. One past the restored store's
     * newest sequence is refused, naming both, over real gRPC.
     */
    @ParameterizedTest
    @EnumSource(RestoredInto.class)
    void aWatcherOfTheLostServerGetsEveryRevocationMadeAfterTheRestore(RestoredInto target) throws Exception {
        byte[] sealed;
        Credential watcher;
        long lastSeen;
        try (RunningServer old = RunningServer.start(dir.resolve("old"))) {
            old.register(WORKLOAD);
            watcher = old.bootstrap(WORKLOAD);
            revokeJti(old, "before-the-backup");
            ByteArrayOutputStream file = new ByteArrayOutputStream();
            backUp(old, file);
            sealed = file.toByteArray();
            revokeJti(old, "lost-1");
            lastSeen = revokeJti(old, "lost-2"); // a verifier saw it, then the server was lost
        }
        assertThat(lastSeen).isEqualTo(3);

        Path restored = Files.createDirectories(dir.resolve("restored"));
        Files.copy(dir.resolve("old").resolve("kek"), restored.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);
        Map<String, String> config = target.restore(sealed, restored);
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

    /** Where a backup is restored to; returns the settings a server needs on top of its data directory. */
    enum RestoredInto {
        H2, SQLITE, POSTGRESQL;

        Map<String, String> restore(byte[] sealed, Path dataDir) throws Exception {
            Map<String, String> config = Map.of();
            Database store;
            if (this == POSTGRESQL) {
                TestPostgres postgres = TestPostgres.get();
                String url = postgres.newDatabase();
                config = Map.of("database.url", url, "database.user", postgres.user());
                store = Database.open(url, postgres.user(), "");
            } else {
                store = (this == H2 ? EmbeddedStore.H2 : EmbeddedStore.SQLITE).open(dataDir);
            }
            try (InputStream in = BackupFile.decrypting(new ByteArrayInputStream(sealed), PASSPHRASE);
                    store; Connection c = store.dataSource().getConnection()) {
                SnapshotWriter.restore(in, c, java.time.Clock.systemUTC());
            }
            return config;
        }
    }

    private static long revokeJti(RunningServer server, String jti) {
        return server.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(dev.lanyard.v1.RevocationTarget.newBuilder().setJti(jti))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build()).getRevocation().getSequence();
    }

    /** Takes a backup of {@code server} over gRPC into {@code file}, encrypted; returns how many chunks. */
    private static long backUp(RunningServer server, OutputStream file) throws Exception {
        long chunks = 0;
        try (OutputStream out = BackupFile.encrypting(file, PASSPHRASE, new SecureRandom())) {
            Iterator<BackupChunk> stream = BackupServiceGrpc.newBlockingStub(server.channel(server.adminCredential()))
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
        return chunks;
    }

    private void restoresAsTheSameCa(Map<String, String> source, EmbeddedStore target) throws Exception {
        byte[] sealed;
        Credential held;
        String root;
        long chunks;
        try (RunningServer old = RunningServer.start(dir.resolve("old"), source)) {
            old.register(WORKLOAD);
            held = old.bootstrap(WORKLOAD);
            root = old.server().rootFingerprint();
            ByteArrayOutputStream file = new ByteArrayOutputStream();
            chunks = backUp(old, file);
            sealed = file.toByteArray();
        }
        assertThat(chunks).isGreaterThan(10);

        Path restored = dir.resolve("restored");
        Files.createDirectories(restored);
        SnapshotWriter.Restored done;
        try (InputStream in = BackupFile.decrypting(new ByteArrayInputStream(sealed), PASSPHRASE);
                Database store = target.open(restored); Connection c = store.dataSource().getConnection()) {
            done = SnapshotWriter.restore(in, c, java.time.Clock.systemUTC());
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
