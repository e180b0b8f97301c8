package dev.lanyard.credential;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.crypto.CryptoProviders;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CredentialDirectoryTest {

    @TempDir
    Path dir;

    /** A running dev server rewrites its admin credential while commands read it. */
    @Test
    @org.junit.jupiter.api.Timeout(120)
    void aReaderNeverPairsACertificateWithAnotherCredentialsKey() throws Exception {
        List<Credential> credentials = List.of(selfSigned("a"), selfSigned("b"));
        CredentialDirectory directory = new CredentialDirectory(dir);
        directory.write(credentials.get(0));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger rewrites = new AtomicInteger();
        Thread writer = new Thread(() -> {
            for (int i = 1; !stop.get(); i++) {
                try {
                    directory.write(credentials.get(i % 2));
                    rewrites.incrementAndGet();
                    Thread.sleep(2); // hundreds of rewrites a second: far more often than any server rewrites
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        writer.start();
        AtomicInteger mismatched = new AtomicInteger();
        int reads = 0;
        try {
            // A count, not a time window: on a loaded machine the reads and rewrites still overlap this often.
            while (reads < 50 || rewrites.get() < 10) {
                Credential read = directory.read(CryptoProviders.bouncyCastleOnly());
                reads++;
                if (!pairs(read)) {
                    mismatched.incrementAndGet();
                }
            }
        } finally {
            stop.set(true);
            writer.join();
        }
        assertThat(mismatched.get()).as("reads of %d whose key is not the certificate's", reads).isZero();
    }

    /**
     * A write cut short by a crash leaves its staged files, the key's a copy of the secret: the next load
     * or write removes them once stale, and nothing else (a younger one may be a write under way).
     */
    @Test
    void aLoadOrAWriteRemovesStaleTemporariesOfOurOwnNamingOnly() throws Exception {
        Instant now = Instant.parse("2030-01-01T00:00:00Z");
        CredentialDirectory directory = new CredentialDirectory(dir, Clock.fixed(now, ZoneOffset.UTC));
        directory.write(selfSigned("a"));
        FileTime stale = FileTime.from(now.minus(CredentialDirectory.STALE_AFTER).minusSeconds(1));
        List<String> ours = List.of(".key.pem.1f3a9c0d2b4e6f70.tmp", ".cert.pem.7.tmp", ".bundle.pem.tmp",
                ".key.pem.prev.abc.tmp", ".key.pem.tmp");
        List<String> others = List.of(".notes.tmp", ".key.pem.XYZ.tmp", "key.pem.1234.tmp", ".key.pem.1234.tmp.bak",
                ".id.pem.12.tmp");
        Path young = dir.resolve(".key.pem.0123.tmp");
        Path aDirectory = dir.resolve(".cert.pem.99.tmp");
        for (String operation : List.of("load", "write")) {
            for (String name : concat(ours, others)) {
                Files.write(dir.resolve(name), new byte[] {1});
                Files.setLastModifiedTime(dir.resolve(name), stale);
            }
            Files.write(young, new byte[] {1});
            Files.setLastModifiedTime(young, FileTime.from(now.minusSeconds(5)));
            Files.createDirectories(aDirectory);
            Files.setLastModifiedTime(aDirectory, stale);

            if (operation.equals("load")) {
                directory.read(CryptoProviders.bouncyCastleOnly());
            } else {
                directory.write(selfSigned("b"));
            }

            for (String name : ours) {
                assertThat(dir.resolve(name)).as("%s after a %s", name, operation).doesNotExist();
            }
            for (String name : others) {
                assertThat(dir.resolve(name)).as("%s after a %s", name, operation).exists();
            }
            assertThat(young).as("a younger one, after a " + operation).exists();
            assertThat(aDirectory).as("a directory, after a " + operation).isDirectory();
        }
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @Test
    void aRewriteReplacesEveryFileWithTheKeyOwnerOnlyAndLeavesNothingBeside() throws Exception {
        CredentialDirectory directory = new CredentialDirectory(dir.resolve("new").resolve("credential"));
        directory.write(selfSigned("a"));
        Credential b = selfSigned("b");
        directory.write(b);

        Credential read = directory.read(CryptoProviders.bouncyCastleOnly());
        assertThat(read.leaf()).isEqualTo(b.leaf());
        assertThat(pairs(read)).as("the key read is b's").isTrue();
        assertThat(java.nio.file.Files.getPosixFilePermissions(directory.path().resolve(CredentialDirectory.KEY)))
                .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        try (var files = java.nio.file.Files.list(directory.path())) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(CredentialDirectory.CERT, CredentialDirectory.KEY, CredentialDirectory.BUNDLE);
        }
    }

    /**
     * A rewrite cut short between its renames (here the bundle's fails: a directory stands at bundle.pem)
     * leaves the new key beside the old certificate: the old certificate's key is still there, the credential
     * reads as the old one, and the next rewrite heals it.
     */
    @Test
    void aRewriteCutShortBetweenItsRenamesLeavesACredentialThatReadsAndRenews() throws Exception {
        CredentialDirectory directory = new CredentialDirectory(dir);
        Credential a = selfSigned("a");
        directory.write(a);
        java.nio.file.Files.delete(dir.resolve(CredentialDirectory.BUNDLE));
        java.nio.file.Files.createDirectories(dir.resolve(CredentialDirectory.BUNDLE).resolve("x"));

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> directory.write(selfSigned("b")))
                .isInstanceOf(java.io.IOException.class);
        java.nio.file.Files.delete(dir.resolve(CredentialDirectory.BUNDLE).resolve("x"));
        java.nio.file.Files.delete(dir.resolve(CredentialDirectory.BUNDLE));
        assertThat(pairs(directory.readOnce(CryptoProviders.bouncyCastleOnly(), CredentialDirectory.KEY)))
                .as("the simulation stopped between the key's rename and the certificate's").isFalse();
        Credential read = directory.read(CryptoProviders.bouncyCastleOnly());
        assertThat(read.leaf()).isEqualTo(a.leaf());
        assertThat(pairs(read)).isTrue();

        Credential c = selfSigned("c");
        directory.write(c);
        read = directory.read(CryptoProviders.bouncyCastleOnly());
        assertThat(read.leaf()).isEqualTo(c.leaf());
        assertThat(pairs(read)).isTrue();
        try (var files = java.nio.file.Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(CredentialDirectory.CERT, CredentialDirectory.KEY, CredentialDirectory.BUNDLE);
        }
    }

    @Test
    void aCredentialDirectoryIsMadeOwnerOnly() throws Exception {
        CredentialDirectory directory = new CredentialDirectory(dir.resolve("a").resolve("creds"));
        directory.write(selfSigned("a"));
        assertThat(java.nio.file.Files.getPosixFilePermissions(directory.path()))
                .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    }

    /** Group or others could replace bundle.pem, the roots a renewal trusts the server by. */
    @Test
    void aDirectoryOthersMayWriteInIsRefused() throws Exception {
        CredentialDirectory directory = new CredentialDirectory(dir.resolve("creds"));
        Credential a = selfSigned("a");
        directory.write(a);
        java.nio.file.Files.setPosixFilePermissions(directory.path(),
                java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> directory.write(selfSigned("b")))
                .isInstanceOf(CredentialDirectory.NotPrivate.class)
                .hasMessage(directory.path() + ": the directory has mode 0777: group or others could replace the key or"
                        + " the trust bundle in it");
        assertThat(directory.read(CryptoProviders.bouncyCastleOnly()).leaf()).isEqualTo(a.leaf());
    }

    /** Needs root to give a directory to another uid; fails (not skips) without it unless told to skip. */
    @Test
    void aDirectoryAnotherUserOwnsIsRefused() throws Exception {
        if (new com.sun.security.auth.module.UnixSystem().getUid() != 0) {
            org.junit.jupiter.api.Assumptions.assumeFalse("true".equals(System.getenv("LANYARD_SKIP_UID_TESTS")),
                    "LANYARD_SKIP_UID_TESTS=true: directories of other uids are not tested");
            org.assertj.core.api.Assertions.fail("this test gives a directory to another uid and needs root;"
                    + " set LANYARD_SKIP_UID_TESTS=true to skip it on purpose");
        }
        CredentialDirectory directory = new CredentialDirectory(dir.resolve("creds"));
        directory.write(selfSigned("a"));
        java.nio.file.Files.setAttribute(directory.path(), "unix:uid", 65534);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> directory.write(selfSigned("b")))
                .isInstanceOf(CredentialDirectory.NotPrivate.class)
                .hasMessage(directory.path() + ": the directory is owned by uid 65534, not by uid 0 that runs this"
                        + " command: that user could replace the key or the trust bundle in it");
    }

    private static boolean pairs(Credential credential) throws Exception {
        byte[] message = "probe".getBytes(StandardCharsets.US_ASCII);
        Signature sign = Signature.getInstance("SHA256withECDSA");
        sign.initSign(credential.privateKey());
        sign.update(message);
        Signature verify = Signature.getInstance("SHA256withECDSA");
        verify.initVerify(credential.leaf().getPublicKey());
        verify.update(message);
        return verify.verify(sign.sign());
    }

    private static Credential selfSigned(String name) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair keys = generator.generateKeyPair();
        X500Name subject = new X500Name("CN=" + name);
        Date now = new Date();
        var certificate = new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(subject,
                BigInteger.ONE, now, new Date(now.getTime() + 3_600_000), subject, keys.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
        return new Credential(keys.getPrivate(), certificate, List.of(), List.of(certificate));
    }
}
