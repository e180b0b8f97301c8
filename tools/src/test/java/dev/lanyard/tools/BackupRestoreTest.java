package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.BackupServiceGrpc;
import dev.lanyard.v1.CreateBackupRequest;
import dev.lanyard.v1.ListRegistrationsRequest;
import dev.lanyard.v1.Registration;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lanyard backup` and `lanyard restore`, run in-process against real dev servers on loopback. */
class BackupRestoreTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/shop/sa/api";
    private static final String REVOKED = "spiffe://lanyard.local/ns/shop/sa/retired";

    @TempDir
    Path dir;

    @Test
    void aRestoredServerIsTheSameCaWithTheSameRegistrationsRevocationsAndAuditChain() throws Exception {
        Path key = passphrase("correct horse battery staple");
        Path backup = dir.resolve("lanyard.backup");
        Credential held;
        Credential revoked;
        String root;
        AtomicInteger registeredDuringBackup = new AtomicInteger();
        try (RunningServer old = RunningServer.start(dir.resolve("old"))) {
            root = old.server().rootFingerprint();
            old.register(WORKLOAD);
            held = old.bootstrap(WORKLOAD);
            old.register(REVOKED);
            revoked = old.bootstrap(REVOKED);
            old.revocations().revoke(RevokeRequest.newBuilder()
                    .setTarget(RevocationTarget.newBuilder().setSpiffeId(REVOKED)).build());
            // writes go on while the snapshot is read: what is restored must still agree with itself
            AtomicBoolean backingUp = new AtomicBoolean(true);
            Thread writer = new Thread(() -> {
                while (backingUp.get()) {
                    old.register("spiffe://lanyard.local/ns/busy/sa/w" + registeredDuringBackup.incrementAndGet());
                }
            });
            writer.start();
            CliRun made;
            try {
                made = CliRun.run("backup", "--out", backup.toString(), "--passphrase-file", key.toString(),
                        "--note", "before the move", "--server", "localhost:" + old.server().grpcPort(),
                        "--data", dir.resolve("old").toString());
            } finally {
                backingUp.set(false);
                writer.join();
            }
            assertThat(made.exit()).as(made.err()).isZero();
            assertThat(made.out()).contains("wrote " + backup, "of trust domain lanyard.local",
                    "keys stay sealed under KEK", "the restored server needs the same kek.file");
            assertThat(Files.getPosixFilePermissions(backup)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(dir.resolve("lanyard.backup.partial")).doesNotExist();
            String bytes = new String(Files.readAllBytes(backup), StandardCharsets.ISO_8859_1);
            assertThat(bytes).doesNotContain(WORKLOAD).doesNotContain("CERTIFICATE").doesNotContain("registration");
            assertThat(old.server().audit().recent(50)).anySatisfy(e -> {
                assertThat(e.action()).isEqualTo("backup.create");
                assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
                assertThat(e.reason()).contains("tables", "rows", "note: before the move");
            });
        }

        Path restoredDir = dir.resolve("restored");
        CliRun restore = CliRun.run("restore", "--from", backup.toString(), "--passphrase-file", key.toString(),
                "--data-dir", restoredDir.toString());
        assertThat(restore.exit()).as(restore.err()).isZero();
        assertThat(restore.out()).contains("restored ", "of trust domain lanyard.local", "into " + restoredDir,
                "give the new server the same kek.file");
        Files.copy(dir.resolve("old").resolve("kek"), restoredDir.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);

        try (RunningServer restored = RunningServer.start(restoredDir)) {
            assertThat(restored.server().rootFingerprint()).isEqualTo(root);
            Credential renewed = restored.renew(held);
            assertThat(renewed.chain()).containsExactlyElementsOf(held.chain());
            assertThatThrownBy(() -> restored.renew(revoked)).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                        assertThat(e.getStatus().getDescription()).contains(REVOKED);
                    });
            String server = "localhost:" + restored.server().grpcPort();
            CliRun verify = CliRun.run("audit", "verify", "--server", server, "--data", restoredDir.toString());
            assertThat(verify.exit()).as(verify.err()).isZero();
            assertThat(verify.out()).contains("audit trail intact");
            // one point in time: every registration restored has its audit record, and no record lacks its registration
            List<String> registrations = restored.admin().listRegistrations(ListRegistrationsRequest.newBuilder()
                    .setPageSize(1000).build()).getRegistrationsList().stream().map(Registration::getSpiffeId).toList();
            assertThat(registrations).contains(WORKLOAD, REVOKED);
            CliRun tail = CliRun.run("audit", "tail", "-n", "1000", "--server", server, "--data", restoredDir.toString());
            long audited = tail.out().lines().filter(l -> l.contains("registration.create") && l.contains("SUCCESS"))
                    .count();
            // A registration and its audit record are one commit (AuditedCall.runInOneTransaction).
            assertThat(audited).isEqualTo(registrations.size());
            assertThat(registrations.size()).isLessThanOrEqualTo(2 + registeredDuringBackup.get());
        }
    }

    @Test
    void aWrongKeyACutOrAlteredFileAFullTargetAndANonAdminAreRefused() throws Exception {
        Path key = passphrase("correct horse battery staple");
        Path backup = dir.resolve("lanyard.backup");
        try (RunningServer old = RunningServer.start(dir.resolve("old"))) {
            String server = "localhost:" + old.server().grpcPort();
            String data = dir.resolve("old").toString();
            CliRun made = CliRun.run("backup", "--out", backup.toString(), "--passphrase-file", key.toString(),
                    "--server", server, "--data", data);
            assertThat(made.exit()).as(made.err()).isZero();
            CliRun again = CliRun.run("backup", "--out", backup.toString(), "--passphrase-file", key.toString(),
                    "--server", server, "--data", data);
            assertThat(again.exit()).isEqualTo(ExitCodes.FAILED);
            assertThat(again.err()).contains(backup + ": exists already");

            Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-r--r--"));
            CliRun open = CliRun.run("backup", "--out", dir.resolve("other").toString(), "--passphrase-file",
                    key.toString(), "--server", server, "--data", data);
            assertThat(open.exit()).isEqualTo(ExitCodes.FAILED);
            assertThat(open.err()).contains("is readable by others");
            assertThat(dir.resolve("other")).doesNotExist();
            Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));

            old.register(WORKLOAD);
            Credential workload = old.bootstrap(WORKLOAD);
            assertThatThrownBy(() -> BackupServiceGrpc.newBlockingStub(old.channel(workload))
                    .withDeadlineAfter(30, TimeUnit.SECONDS).createBackup(CreateBackupRequest.getDefaultInstance())
                    .hasNext()).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                        assertThat(e.getStatus().getDescription()).contains(WORKLOAD + " is not an admin");
                    });
            assertThat(old.server().audit().recent(20)).anySatisfy(e -> {
                assertThat(e.actor()).isEqualTo(WORKLOAD);
                assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
                assertThat(e.target()).contains("BackupService/CreateBackup");
            });
        }

        Path target = dir.resolve("target");
        CliRun wrongKey = restore(backup, passphrase("another passphrase, not the one"), target);
        assertThat(wrongKey.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(wrongKey.err()).contains("wrong passphrase", "nothing was restored");
        assertThat(target).doesNotExist();

        byte[] whole = Files.readAllBytes(backup);
        Path cut = dir.resolve("cut.backup");
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length - 40));
        CliRun truncated = restore(cut, key, target);
        assertThat(truncated.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(truncated.err()).contains("truncated");
        assertThat(target).doesNotExist();

        Path altered = dir.resolve("altered.backup");
        byte[] flipped = whole.clone();
        flipped[whole.length / 2] ^= 0x20;
        Files.write(altered, flipped);
        CliRun tampered = restore(altered, key, target);
        assertThat(tampered.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(tampered.err()).contains("altered");
        assertThat(target).doesNotExist();

        Files.createDirectories(target);
        Files.writeString(target.resolve("lanyard.mv.db"), "someone's store");
        CliRun full = restore(backup, key, target);
        assertThat(full.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(full.err()).contains(target + ": is not an empty directory", "restore into a new directory");
        assertThat(Files.readString(target.resolve("lanyard.mv.db"))).isEqualTo("someone's store");

        Path empty = Files.createDirectories(dir.resolve("empty"));
        CliRun intoEmpty = restore(backup, key, empty);
        assertThat(intoEmpty.exit()).as(intoEmpty.err()).isZero();
    }

    @Test
    void aBackupRestoresIntoAnEmptyPostgresDatabaseAndNeverIntoOneInUse() throws Exception {
        TestPostgres postgres = TestPostgres.get();
        Path key = passphrase("correct horse battery staple");
        Path backup = dir.resolve("lanyard.backup");
        Credential held;
        String root;
        try (RunningServer old = RunningServer.start(dir.resolve("old"))) {
            old.register(WORKLOAD);
            held = old.bootstrap(WORKLOAD);
            root = old.server().rootFingerprint();
            CliRun made = CliRun.run("backup", "--out", backup.toString(), "--passphrase-file", key.toString(),
                    "--server", "localhost:" + old.server().grpcPort(), "--data", dir.resolve("old").toString());
            assertThat(made.exit()).as(made.err()).isZero();
        }
        String url = postgres.newDatabase();
        String[] restore = {"restore", "--from", backup.toString(), "--passphrase-file", key.toString(),
            "--database-url", url, "--database-user", postgres.user()};
        CliRun restored = CliRun.run(restore);
        assertThat(restored.exit()).as(restored.err()).isZero();
        assertThat(restored.out()).contains("restored ", "of trust domain lanyard.local");
        CliRun again = CliRun.run(restore);
        assertThat(again.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(again.err()).contains("the target store is not empty", "nothing was changed");
        CliRun both = CliRun.run("restore", "--from", backup.toString(), "--passphrase-file", key.toString(),
                "--database-url", url, "--data-dir", dir.resolve("x").toString());
        assertThat(both.exit()).isEqualTo(ExitCodes.USAGE);

        Path serverDir = Files.createDirectories(dir.resolve("pg-server"));
        Files.copy(dir.resolve("old").resolve("kek"), serverDir.resolve("kek"), StandardCopyOption.COPY_ATTRIBUTES);
        try (RunningServer onPostgres = RunningServer.start(serverDir, java.util.Map.of("database.url", url,
                "database.user", postgres.user()))) {
            assertThat(onPostgres.server().rootFingerprint()).isEqualTo(root);
            assertThat(onPostgres.renew(held).chain()).containsExactlyElementsOf(held.chain());
            CliRun verify = CliRun.run("audit", "verify", "--server", "localhost:" + onPostgres.server().grpcPort(),
                    "--data", serverDir.toString());
            assertThat(verify.exit()).as(verify.err()).isZero();
            assertThat(verify.out()).contains("audit trail intact");
        }
    }

    private static CliRun restore(Path backup, Path key, Path target) {
        return CliRun.run("restore", "--from", backup.toString(), "--passphrase-file", key.toString(),
                "--data-dir", target.toString());
    }

    private Path passphrase(String text) throws Exception {
        Path file = Files.createTempFile(dir, "key", "", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text + "\n");
        return file;
    }
}
