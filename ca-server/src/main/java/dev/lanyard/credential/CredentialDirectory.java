package dev.lanyard.credential;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.store.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A credential on disk: {@code cert.pem} (leaf then intermediates), {@code key.pem} (PKCS#8,
 * 0600) and {@code bundle.pem} (roots). Files are replaced atomically, and a reader never pairs a
 * certificate with another's key ({@link #write}).
 */
public final class CredentialDirectory {

    public static final String CERT = "cert.pem";
    public static final String KEY = "key.pem";
    public static final String BUNDLE = "bundle.pem";
    /** The key of {@code cert.pem} while a write replaces the pair ({@link #write}). */
    public static final String PREVIOUS_KEY = "key.pem.prev";

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OWNER_ONLY_DIRECTORY = PosixFilePermissions.fromString("rwx------");

    /**
     * The temporary files a write stages here: DurableFiles' ({@code .key.pem.1f3a9c.tmp}) and the Go
     * command line's ({@code .key.pem.tmp}); nothing else is ever removed as one.
     */
    private static final Pattern TEMPORARY =
            Pattern.compile("\\.(cert\\.pem|key\\.pem|bundle\\.pem|key\\.pem\\.prev)(\\.[0-9a-f]{1,16})?\\.tmp");
    /**
     * How old a temporary file is when a crash must have left it: a write renames what it staged within
     * milliseconds, and a younger one may be a write under way in another process (a server renewing
     * its admin credential while a command reads it).
     */
    public static final Duration STALE_AFTER = Duration.ofMinutes(10);

    private final Path dir;
    private final Clock clock;

    public CredentialDirectory(Path dir) {
        this(dir, Clock.systemUTC());
    }

    /** @param clock what a temporary file's age is measured by ({@link #removeStaleTemporaries}) */
    public CredentialDirectory(Path dir, Clock clock) {
        this.dir = dir;
        this.clock = clock;
    }

    public Path path() {
        return dir;
    }

    public boolean exists() {
        return Files.isRegularFile(dir.resolve(CERT)) && Files.isRegularFile(dir.resolve(KEY));
    }

    /**
     * Replaces the credential so that no failure or crash leaves a certificate without its key. Every new
     * file is first staged beside the old ones (a full disk changes nothing). The key of the current
     * {@code cert.pem} is then kept as {@code key.pem.prev} (a hard link: no copy of the secret), and the new
     * files are renamed into place, key first and certificate last; {@code key.pem.prev} is removed once
     * {@code cert.pem} is the new one. Between the renames {@code key.pem} is the new key and {@code cert.pem}
     * the old certificate: a reader ({@link #untilPaired}) pairs {@code cert.pem} with {@code key.pem.prev}
     * then, so a renewal cut short still leaves a credential that loads, and renews.
     */
    public void write(Credential credential) throws IOException {
        if (!Files.isDirectory(dir)) {
            DurableFiles.createDirectories(dir, OWNER_ONLY_DIRECTORY);
        }
        requirePrivate();
        removeStaleTemporaries();
        List<X509Certificate> certs = new ArrayList<>();
        certs.add(credential.leaf());
        certs.addAll(credential.chain());
        Map<String, Path> staged = new LinkedHashMap<>(); // in the order they are renamed: key first, certificate last
        try {
            staged.put(KEY, DurableFiles.stage(dir.resolve(KEY), ascii(Pem.privateKey(credential.privateKey())), OWNER_ONLY));
            staged.put(BUNDLE, DurableFiles.stage(dir.resolve(BUNDLE), ascii(Pem.certificates(credential.bundle()))));
            staged.put(CERT, DurableFiles.stage(dir.resolve(CERT), ascii(Pem.certificates(certs))));
            keepPairedKey();
            for (Map.Entry<String, Path> file : staged.entrySet()) {
                DurableFiles.commit(file.getValue(), dir.resolve(file.getKey()));
            }
        } finally {
            for (Path tmp : staged.values()) {
                Files.deleteIfExists(tmp);
            }
        }
        DurableFiles.forceDirectory(dir);
        Files.deleteIfExists(dir.resolve(PREVIOUS_KEY));
        DurableFiles.forceDirectory(dir);
    }

    /**
     * Makes {@code key.pem.prev} the key of the current {@code cert.pem} before {@code key.pem} is replaced.
     * When {@code key.pem} is not that key, an earlier write was cut short between its renames and
     * {@code key.pem.prev} already is: it is kept.
     */
    private void keepPairedKey() throws IOException {
        Path previous = dir.resolve(PREVIOUS_KEY);
        if (!exists()) {
            return;
        }
        boolean paired;
        try {
            paired = readOnce(CryptoProviders.bouncyCastleOnly(), KEY).keyMatchesCertificate();
        } catch (IOException | RuntimeException e) {
            paired = false; // a credential that does not load: nothing worth keeping in key.pem
        }
        if (!paired && Files.isRegularFile(previous)) {
            return;
        }
        Files.deleteIfExists(previous);
        try {
            Files.createLink(previous, dir.resolve(KEY));
        } catch (UnsupportedOperationException | IOException e) { // a file system without hard links: a copy
            DurableFiles.replace(previous, Files.readAllBytes(dir.resolve(KEY)), OWNER_ONLY);
        }
        DurableFiles.forceDirectory(dir);
    }

    /** A directory another user owns or may write in: the problem and what to do, for a message. */
    public static final class NotPrivate extends IOException {
        private final String problem;
        private final String hint;

        NotPrivate(Path dir, String problem, String hint) {
            super(dir + ": " + problem);
            this.problem = problem;
            this.hint = hint;
        }

        public String problem() {
            return problem;
        }

        public String hint() {
            return hint;
        }
    }

    /**
     * Refuses a directory another user owns or group or others may write in: they could replace
     * {@code bundle.pem} (the roots the server is trusted by) or the key and certificate (the agent's
     * securedir makes the same check). The Go command line says the same (creds.go requirePrivate).
     */
    public void requirePrivate() throws IOException {
        long owner = ((Number) Files.getAttribute(dir, "unix:uid")).longValue();
        long uid = new com.sun.security.auth.module.UnixSystem().getUid();
        if (owner != uid) {
            throw new NotPrivate(dir, "the directory is owned by uid " + owner + ", not by uid " + uid
                    + " that runs this command: that user could replace the key or the trust bundle in it",
                    "keep the credential in a directory of your own (`cert issue --out` creates one, 0700)");
        }
        int mode = ((Number) Files.getAttribute(dir, "unix:mode")).intValue() & 0777;
        if ((mode & 022) != 0) {
            throw new NotPrivate(dir, "the directory has mode " + String.format("%04o", mode)
                    + ": group or others could replace the key or the trust bundle in it", "chmod go-w " + dir);
        }
    }

    private static byte[] ascii(String pem) {
        return pem.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Reads the credential. A writer replaces the key, then the certificate (keeping the certificate's key as
     * {@code key.pem.prev} meanwhile), so a read between the two is paired with {@code key.pem.prev}.
     */
    public Credential read(CryptoProviders crypto) throws IOException {
        removeStaleTemporaries();
        return untilPaired(dir, key -> readOnce(crypto, key));
    }

    /**
     * Removes the temporary files a write cut short by a crash left here (a staged key is a copy of the
     * secret, and nothing else would ever remove it): only files of our own naming ({@link #TEMPORARY}),
     * older than {@link #STALE_AFTER}. Called on every write and load; best effort, since a reader may
     * not be allowed to write here.
     */
    public void removeStaleTemporaries() {
        Instant staleBefore = clock.instant().minus(STALE_AFTER);
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, ".*.tmp")) {
            for (Path entry : entries) {
                try {
                    if (TEMPORARY.matcher(entry.getFileName().toString()).matches()
                            && Files.isRegularFile(entry, LinkOption.NOFOLLOW_LINKS)
                            && Files.getLastModifiedTime(entry, LinkOption.NOFOLLOW_LINKS).toInstant()
                                    .isBefore(staleBefore)) {
                        Files.deleteIfExists(entry);
                    }
                } catch (IOException e) {
                    // left for the next write or load
                }
            }
        } catch (IOException | DirectoryIteratorException e) {
            // no directory, or not ours to list: nothing to clean
        }
    }

    /** One read of a credential directory, however it parses the files, with the key in {@code keyFile}. */
    @FunctionalInterface
    public interface Read {
        Credential once(String keyFile) throws IOException;
    }

    /** How many times a read that found another credential's key is made again before giving up. */
    private static final int PAIRING_ATTEMPTS = 20;

    /**
     * Reads {@code dir} with {@code read} until the key matches the certificate: {@code key.pem}, else
     * {@code key.pem.prev} (a write between its renames, or cut short there). A read that finds neither (the
     * writer finished between the reads of the files) is made again, 5 ms apart, at most
     * {@value #PAIRING_ATTEMPTS} times.
     */
    public static Credential untilPaired(Path dir, Read read) throws IOException {
        for (int attempt = 1; ; attempt++) {
            Credential credential = read.once(KEY);
            if (credential.keyMatchesCertificate()) {
                return credential;
            }
            if (Files.isRegularFile(dir.resolve(PREVIOUS_KEY))) {
                try {
                    Credential previous = read.once(PREVIOUS_KEY);
                    if (previous.keyMatchesCertificate()) {
                        return previous;
                    }
                } catch (IOException e) {
                    // removed meanwhile: the writer finished; read again
                }
            }
            if (attempt == PAIRING_ATTEMPTS) {
                throw new IOException(dir.resolve(KEY) + " is not the key of " + dir.resolve(CERT));
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while reading a credential being rewritten");
            }
        }
    }

    /** One read, with the key in {@code keyFile} ({@link #KEY} or {@link #PREVIOUS_KEY}), paired or not. */
    public Credential readOnce(CryptoProviders crypto, String keyFile) throws IOException {
        List<X509Certificate> certs = Pem.parseCertificates(Files.readString(dir.resolve(CERT)));
        if (certs.isEmpty()) {
            throw new IOException(dir.resolve(CERT) + " holds no certificate");
        }
        List<X509Certificate> bundle = Files.isRegularFile(dir.resolve(BUNDLE))
                ? Pem.parseCertificates(Files.readString(dir.resolve(BUNDLE)))
                : List.of();
        return new Credential(Pem.parsePrivateKey(Files.readString(dir.resolve(keyFile)), crypto),
                certs.get(0), certs.subList(1, certs.size()), bundle);
    }
}
