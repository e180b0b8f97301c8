package dev.lanyard.publication;

import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyPairing;
import dev.lanyard.crypto.Pem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * An operator's web certificate for {@code http.tls=web}: a PEM chain (leaf first) and its key, read
 * again by {@link #reloadIfChanged()} when either file's bytes changed. A pair that does not parse or
 * whose key does not match the leaf is refused once (reported, not again until the files change), and
 * the previous pair keeps serving.
 */
public final class WebCertificate {

    private final Path certificateFile;
    private final Path keyFile;
    private final CryptoProviders crypto;
    private byte[] loadedCertificate = new byte[0];
    private byte[] loadedKey = new byte[0];
    /** The pair last refused: not reported again until the files change once more. */
    private byte[] refusedCertificate = new byte[0];
    private byte[] refusedKey = new byte[0];

    public WebCertificate(Path certificateFile, Path keyFile, CryptoProviders crypto) {
        this.certificateFile = certificateFile;
        this.keyFile = keyFile;
        this.crypto = crypto;
    }

    /** Reads both files now; the start of a server fails on a pair that does not load. */
    public Credential load() {
        return reloadIfChanged().orElseThrow(() -> new IllegalStateException("unreachable: first load"));
    }

    /**
     * The new pair if either file changed since the last successful load, empty if neither did.
     *
     * @throws IllegalArgumentException naming the file and what is wrong (never quoting the key)
     */
    public synchronized Optional<Credential> reloadIfChanged() {
        byte[] certificateBytes = read(certificateFile);
        byte[] keyBytes = read(keyFile);
        if (Arrays.equals(certificateBytes, loadedCertificate) && Arrays.equals(keyBytes, loadedKey)) {
            return Optional.empty();
        }
        if (Arrays.equals(certificateBytes, refusedCertificate) && Arrays.equals(keyBytes, refusedKey)) {
            return Optional.empty();
        }
        refusedCertificate = certificateBytes;
        refusedKey = keyBytes;
        List<X509Certificate> chain;
        try {
            chain = Pem.parseCertificates(new String(certificateBytes, StandardCharsets.US_ASCII));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(certificateFile + ": " + e.getMessage(), e);
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException(certificateFile + ": no CERTIFICATE block");
        }
        PrivateKey key;
        try {
            key = Pem.parsePrivateKey(new String(keyBytes, StandardCharsets.US_ASCII), crypto);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(keyFile + ": " + e.getMessage()); // no cause: it may quote the key
        }
        if (!KeyPairing.matches(key, chain.get(0).getPublicKey())) {
            throw new IllegalArgumentException(keyFile + " is not the key of the first certificate in "
                    + certificateFile);
        }
        loadedCertificate = certificateBytes;
        loadedKey = keyBytes;
        return Optional.of(new Credential(key, chain.get(0), chain.subList(1, chain.size()), List.of()));
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
