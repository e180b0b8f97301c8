package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** Reads a credential directory, saying which file is missing and how to make it. */
final class CredentialFiles {

    private CredentialFiles() {
    }

    /**
     * @param option the option that named the directory (for the message), e.g. "--in"
     * @param howToCreate the command that makes such a directory
     */
    static Credential read(Path dir, String option, String howToCreate) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new CliFailure(option + " " + dir, Files.exists(dir) ? "not a directory" : "no such directory",
                    "it must be a credential directory (cert.pem, key.pem, bundle.pem); create one with " + howToCreate,
                    ExitCodes.FAILED);
        }
        for (String name : new String[] {CredentialDirectory.CERT, CredentialDirectory.KEY}) {
            if (!Files.isRegularFile(dir.resolve(name))) {
                throw new CliFailure(option + " " + dir, "holds no " + name + ", so it is not a credential directory",
                        "create one with " + howToCreate, ExitCodes.FAILED);
            }
        }
        requirePrivate(dir);
        try {
            return readPaired(dir);
        } catch (IOException | RuntimeException e) {
            if (e instanceof java.nio.file.AccessDeniedException denied) {
                throw new CliFailure(denied.getFile(), "permission denied",
                        "run as the user that owns the credential", ExitCodes.FAILED);
            }
            throw new CliFailure(option + " " + dir, "the credential cannot be read: " + e.getMessage(),
                    "re-create it with " + howToCreate, ExitCodes.FAILED);
        }
    }

    /** As {@link CredentialDirectory#requirePrivate}, said as a command line failure. */
    static void requirePrivate(Path dir) throws IOException {
        try {
            new CredentialDirectory(dir).requirePrivate();
        } catch (CredentialDirectory.NotPrivate e) {
            throw new CliFailure(dir.toString(), e.problem(), e.hint(), ExitCodes.FAILED);
        }
    }

    /** Writes {@code credential} to {@code dir} (made 0700 if absent), refusing a directory that is not private. */
    static void write(Path dir, Credential credential) throws IOException {
        try {
            new CredentialDirectory(dir).write(credential);
        } catch (CredentialDirectory.NotPrivate e) {
            throw new CliFailure(dir.toString(), e.problem(), e.hint(), ExitCodes.FAILED);
        }
    }

    /** As {@link CredentialDirectory#read}: a read that found another credential's key is made again. */
    private static Credential readPaired(Path dir) throws IOException {
        new CredentialDirectory(dir).removeStaleTemporaries();
        return CredentialDirectory.untilPaired(dir, keyFile -> {
            Credential light = withTheJdk(dir, keyFile);
            return light != null ? light
                    : new CredentialDirectory(dir).readOnce(CryptoProviders.bouncyCastleOnly(), keyFile);
        });
    }

    /**
     * The credential as CredentialDirectory writes it (PKCS#8 key, PEM certificates), read with the JDK
     * alone: loading the Bouncy Castle provider (a signed jar, hundreds of classes no class-data
     * archive can hold) cost most of a command's start. Null for any other key format.
     */
    private static Credential withTheJdk(Path dir, String keyFile) throws IOException {
        String pem = Files.readString(dir.resolve(keyFile));
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int from = pem.indexOf(begin);
        int to = pem.indexOf(end);
        if (from < 0 || to < from) {
            return null;
        }
        byte[] der = Base64.getMimeDecoder().decode(pem.substring(from + begin.length(), to));
        PrivateKey key = null;
        for (String algorithm : new String[] {"EC", "Ed25519", "RSA"}) {
            try {
                key = KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
                break;
            } catch (GeneralSecurityException e) {
                // not this algorithm
            }
        }
        if (key == null) {
            return null;
        }
        try {
            List<X509Certificate> certs = certificates(dir.resolve(CredentialDirectory.CERT));
            if (certs.isEmpty()) {
                throw new IOException(dir.resolve(CredentialDirectory.CERT) + " holds no certificate");
            }
            Path bundleFile = dir.resolve(CredentialDirectory.BUNDLE);
            List<X509Certificate> bundle = Files.isRegularFile(bundleFile) ? certificates(bundleFile) : List.of();
            return new Credential(key, certs.get(0), certs.subList(1, certs.size()), bundle);
        } catch (CertificateException e) {
            throw new IOException("unreadable certificate: " + e.getMessage(), e);
        }
    }

    private static List<X509Certificate> certificates(Path file) throws IOException, CertificateException {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> certs = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                certs.add((X509Certificate) c);
            }
            return certs;
        }
    }
}
