package dev.lanyard.credential;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.store.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A credential on disk: {@code cert.pem} (leaf then intermediates), {@code key.pem} (PKCS#8,
 * 0600) and {@code bundle.pem} (roots). Files are replaced atomically so a reader never sees
 * a new certificate with an old key.
 */
public final class CredentialDirectory {

    public static final String CERT = "cert.pem";
    public static final String KEY = "key.pem";
    public static final String BUNDLE = "bundle.pem";

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final Path dir;

    public CredentialDirectory(Path dir) {
        this.dir = dir;
    }

    public Path path() {
        return dir;
    }

    public boolean exists() {
        return Files.isRegularFile(dir.resolve(CERT)) && Files.isRegularFile(dir.resolve(KEY));
    }

    public void write(Credential credential) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            DurableFiles.forceDirectory(dir.toAbsolutePath().getParent()); // the new directory's entry
        }
        // The key first and the certificate last: a reader that sees the new certificate also finds its key.
        writeAtomically(KEY, Pem.privateKey(credential.privateKey()), true);
        writeAtomically(BUNDLE, Pem.certificates(credential.bundle()), false);
        List<X509Certificate> certs = new ArrayList<>();
        certs.add(credential.leaf());
        certs.addAll(credential.chain());
        writeAtomically(CERT, Pem.certificates(certs), false);
    }

    /**
     * Reads the credential. A writer replaces the key, then the certificate: a read between the two
     * would pair the old certificate with the new key, so such a read is made again.
     */
    public Credential read(CryptoProviders crypto) throws IOException {
        return untilPaired(dir, () -> readOnce(crypto));
    }

    /** One read of a credential directory, however it parses the files. */
    @FunctionalInterface
    public interface Read {
        Credential once() throws IOException;
    }

    /** How many times a read that found another credential's key is made again before giving up. */
    private static final int PAIRING_ATTEMPTS = 20;

    /**
     * Reads {@code dir} with {@code read} until the key matches the certificate (a writer between the
     * two files was seen), 5 ms apart, at most {@value #PAIRING_ATTEMPTS} times.
     */
    public static Credential untilPaired(Path dir, Read read) throws IOException {
        for (int attempt = 1; ; attempt++) {
            Credential credential = read.once();
            if (credential.keyMatchesCertificate()) {
                return credential;
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

    private Credential readOnce(CryptoProviders crypto) throws IOException {
        List<X509Certificate> certs = Pem.parseCertificates(Files.readString(dir.resolve(CERT)));
        if (certs.isEmpty()) {
            throw new IOException(dir.resolve(CERT) + " holds no certificate");
        }
        List<X509Certificate> bundle = Files.isRegularFile(dir.resolve(BUNDLE))
                ? Pem.parseCertificates(Files.readString(dir.resolve(BUNDLE)))
                : List.of();
        return new Credential(Pem.parsePrivateKey(Files.readString(dir.resolve(KEY)), crypto),
                certs.get(0), certs.subList(1, certs.size()), bundle);
    }

    /** Replaced atomically and durably: after a power loss the file is the old one or the whole new one. */
    private void writeAtomically(String name, String content, boolean secret) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.US_ASCII);
        if (secret) {
            DurableFiles.replace(dir.resolve(name), bytes, OWNER_ONLY);
        } else {
            DurableFiles.replace(dir.resolve(name), bytes);
        }
    }
}
