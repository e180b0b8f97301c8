package dev.lanyard.tools;

import dev.lanyard.backup.BackupFile;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupEnd;
import dev.lanyard.v1.BackupHeader;
import dev.lanyard.v1.BackupServiceGrpc;
import dev.lanyard.v1.CreateBackupRequest;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(footer = {"%nExample:", "  umask 077; head -c 32 /dev/urandom | base64 > backup.key   # keep it apart from the backups",
        "  ./lanyard backup --out lanyard.backup --passphrase-file backup.key"},
        name = "backup", description = "Write an encrypted, consistent snapshot of the server's store: CA and JWT keys"
            + " (still sealed under the KEK; HSM keys by id only), registrations, certificates, revocations and the"
            + " audit chain. Restore it with `lanyard restore`; the restored server needs the same KEK.")
final class BackupCommand extends AdminVerb {

    private static final Duration DEADLINE = Duration.ofHours(1);

    @Option(names = "--out", required = true, description = "the backup file to write (must not exist)")
    Path out;
    @Option(names = "--passphrase-file", required = true, description = "a file holding the passphrase the backup is"
            + " encrypted with (at least 12 characters, mode 0600); `lanyard restore` needs it")
    Path passphraseFile;
    @Option(names = "--note", defaultValue = "", description = "a note for the audit trail")
    String note;

    @Override
    void run(PrintWriter print) throws Exception {
        if (Files.exists(out)) {
            throw new CliFailure(out.toString(), "exists already", "pass a new file to --out; a backup never"
                    + " overwrites one", ExitCodes.FAILED);
        }
        LocalFile.requireReadable(passphraseFile, "--passphrase-file FILE, a file with the backup passphrase");
        char[] passphrase = passphraseFile(passphraseFile);
        Path partial = out.resolveSibling(out.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        Files.createFile(partial, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        boolean done = false;
        try (FileOutputStream file = new FileOutputStream(partial.toFile())) {
            Written written;
            try (OutputStream sealed = BackupFile.encrypting(new BufferedOutputStream(new NonClosing(file), 1 << 16),
                    passphrase, new SecureRandom())) {
                written = rpc(BackupServiceGrpc::newBlockingStub, DEADLINE, s -> write(
                        s.createBackup(CreateBackupRequest.newBuilder().setNote(note).build()), sealed));
            }
            file.getFD().sync();
            Files.move(partial, out, StandardCopyOption.ATOMIC_MOVE);
            done = true;
            print.printf("wrote %s: %d tables, %d rows of trust domain %s (schema %s, taken %s), %d bytes, encrypted"
                    + " with the passphrase in %s%n", out, written.end().getTables(), written.end().getRows(),
                    written.header().getTrustDomain(), written.header().getSchemaVersion(),
                    Instant.ofEpochSecond(written.header().getTakenAt().getSeconds()), Files.size(out), passphraseFile);
            print.println(written.header().getCustody().equals("pkcs11")
                    ? "keys stay in the HSM (the backup names them by id): the restored server needs the same token"
                    : "keys stay sealed under KEK " + written.header().getKekId()
                            + ": the restored server needs the same kek.file (or KEK passphrase)");
        } finally {
            java.util.Arrays.fill(passphrase, '\0');
            if (!done) {
                Files.deleteIfExists(partial);
            }
        }
    }

    static char[] passphraseFile(Path file) {
        try {
            return BackupFile.readPassphrase(file);
        } catch (IOException e) {
            throw new CliFailure("--passphrase-file " + file, e.getMessage(), "write a passphrase of 12 or more"
                    + " characters to an owner-only file: umask 077; head -c 32 /dev/urandom | base64 > FILE",
                    ExitCodes.FAILED);
        }
    }

    private record Written(BackupHeader header, BackupEnd end) {
    }

    /** Writes every chunk, length-delimited, and checks the stream ended with its end marker. */
    private static Written write(Iterator<BackupChunk> chunks, OutputStream sealed) throws IOException {
        BackupHeader header = null;
        BackupEnd end = null;
        while (chunks.hasNext()) {
            BackupChunk chunk = chunks.next();
            if (chunk.hasHeader()) {
                header = chunk.getHeader();
            } else if (chunk.hasEnd()) {
                end = chunk.getEnd();
            }
            chunk.writeDelimitedTo(sealed);
        }
        if (header == null || end == null) {
            throw new IOException("the server's snapshot stream ended before its end marker");
        }
        return new Written(header, end);
    }

    /** Lets the encrypting stream close its chain without closing the file before it is synced. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
