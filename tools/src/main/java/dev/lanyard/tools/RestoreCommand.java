package dev.lanyard.tools;

import dev.lanyard.backup.BackupFile;
import dev.lanyard.backup.InvalidBackupException;
import dev.lanyard.backup.SnapshotWriter;
import dev.lanyard.store.Database;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.time.Clock;
import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(footer = {"%nExample:", "  ./lanyard restore --from lanyard.backup --passphrase-file backup.key --data-dir ./restored",
        "  cp lanyard-data/kek restored/kek    # the same key-encryption key the backed-up server used",
        "  ./lanyard server --config lanyard.properties   # with data-dir = ./restored",
        "  ./lanyard restore --from lanyard.backup --passphrase-file backup.key \\",
        "      --database-url jdbc:postgresql://db/lanyard --database-user lanyard --database-password-env PGPASSWORD"},
        name = "restore", description = "Offline, before the new server starts: write a backup into a new data"
            + " directory (SQLite, or H2 with --embedded h2) or an empty PostgreSQL database. The server started"
            + " on it is the same CA, with the same"
            + " registrations, certificates, revocations and audit chain; it needs the KEK the backed-up server used"
            + " (kek.file, or the passphrase).")
final class RestoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--from", required = true, description = "the backup file (`lanyard backup --out`)")
    Path from;
    @Option(names = "--passphrase-file", required = true, description = "the file with the passphrase it was encrypted"
            + " with")
    Path passphraseFile;
    @Option(names = "--data-dir", description = "the new server's data directory (SQLite, or H2 with --embedded"
            + " h2); must not exist or be empty")
    Path dataDir;
    @picocli.CommandLine.Mixin
    DatabaseOptions database; // an empty PostgreSQL database instead of --data-dir

    @Override
    public Integer call() throws Exception {
        database.requireExactlyOne(spec, dataDir, "--data-dir");
        LocalFile.requireReadable(from, "--from FILE, a backup written by `lanyard backup`");
        LocalFile.requireReadable(passphraseFile, "--passphrase-file FILE, the backup's passphrase");
        if (dataDir != null && Files.exists(dataDir) && (!Files.isDirectory(dataDir) || !isEmpty(dataDir))) {
            throw new CliFailure(dataDir.toString(), "is not an empty directory", "restore into a new directory"
                    + " (a restore never merges into, or overwrites, a store)", ExitCodes.FAILED);
        }
        char[] passphrase = BackupCommand.passphraseFile(passphraseFile);
        boolean existed = dataDir == null || Files.exists(dataDir);
        boolean created = false;
        boolean done = false;
        try (InputStream in = new BufferedInputStream(BackupFile.decrypting(
                new BufferedInputStream(Files.newInputStream(from), 1 << 16), passphrase), 1 << 16)) {
            // the passphrase is checked (above) before anything is created
            if (dataDir != null) {
                Files.createDirectories(dataDir, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
                created = true;
            }
            SnapshotWriter.Restored restored;
            try (Database store = openTarget(); Connection c = store.dataSource().getConnection()) {
                restored = SnapshotWriter.restore(in, c, Clock.systemUTC(), "local operator " + System.getProperty("user.name"));
            }
            byte[] salt = restored.header().getKekSalt().toByteArray();
            if (salt.length > 0 && dataDir != null) {
                Files.write(dataDir.resolve("kek.salt"), salt);
            }
            done = true;
            report(restored, salt);
            return 0;
        } catch (SnapshotWriter.NotEmptyException e) {
            throw new CliFailure(database.describe(dataDir), e.getMessage(),
                    "a restore never merges into, or overwrites, a store; nothing was changed", ExitCodes.FAILED);
        } catch (InvalidBackupException e) {
            throw new CliFailure(from.toString(), e.getMessage(), "check --passphrase-file, and that the file is the"
                    + " whole backup `lanyard backup` wrote; nothing was restored", ExitCodes.VERIFICATION);
        } finally {
            java.util.Arrays.fill(passphrase, '\0');
            if (created && !done) {
                deleteTree(dataDir, existed); // nothing half-way: the directory was new or empty
            }
        }
    }

    /** The new H2 store, or the PostgreSQL database after checking it holds no store (before migrating it). */
    private Database openTarget() throws IOException, java.sql.SQLException {
        if (dataDir == null) {
            java.util.Properties login = new java.util.Properties();
            login.setProperty("user", database.user);
            login.setProperty("password", database.password());
            try (Connection c = java.sql.DriverManager.getConnection(database.url, login)) {
                SnapshotWriter.requireEmpty(c);
            }
        }
        return database.open(dataDir);
    }

    private void report(SnapshotWriter.Restored restored, byte[] salt) {
        var out = spec.commandLine().getOut();
        var header = restored.header();
        out.printf("restored %d tables, %d rows of trust domain %s (schema %s, taken %s) into %s%n",
                restored.tables(), restored.rows(), header.getTrustDomain(), header.getSchemaVersion(),
                Instant.ofEpochSecond(header.getTakenAt().getSeconds()),
                database.describe(dataDir));
        if (restored.voidedJoinTokens() + restored.voidedLoginLinks() > 0) {
            out.printf("voided %d join tokens and %d console login links unused in the backup (the lost server may"
                    + " have used them since): create new ones%n", restored.voidedJoinTokens(), restored.voidedLoginLinks());
        }
        if (header.getCustody().equals("pkcs11")) {
            out.println("keys are in the HSM: configure the new server with the same PKCS#11 token");
        } else {
            out.println("keys are sealed under KEK " + header.getKekId() + ": give the new server the same kek.file"
                    + (salt.length == 0 ? "" : dataDir != null ? " (or the same KEK passphrase; kek.salt is restored)"
                            : " (or the same KEK passphrase, with this kek.salt, base64: "
                                    + java.util.Base64.getEncoder().encodeToString(salt) + ")"));
        }
        out.flush();
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.findAny().isEmpty();
        }
    }

    private static void deleteTree(Path dir, boolean keepDir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).filter(p -> !keepDir || !p.equals(dir)).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
