package dev.lanyard.testing;

import dev.lanyard.ca.IntermediateSigner;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * A root CA kept "offline" by the test: its key never goes to the server. It signs the CSRs of
 * `ca prepare` as an operator would, and writes the PEM files a server imports at first start.
 */
public final class OfflineRoot {

    private final TestCa.External external;
    private final Clock clock;

    private OfflineRoot(TestCa.External external, Clock clock) {
        this.external = external;
        this.clock = clock;
    }

    public static OfflineRoot create(String trustDomain, Clock clock) {
        return new OfflineRoot(TestCa.external(trustDomain, clock), clock);
    }

    public X509Certificate certificate() {
        return external.ca().root().certificate();
    }

    public String certificatePem() {
        return Pem.certificates(List.of(certificate()));
    }

    public PrivateKey key() {
        return external.rootKey();
    }

    /** Writes root.pem, intermediate.pem and intermediate-key.pem; the ca.import.* settings that name them. */
    public Map<String, String> importSettings(Path dir) {
        try {
            Path root = Files.writeString(dir.resolve("root.pem"), certificatePem());
            Path intermediate = Files.writeString(dir.resolve("intermediate.pem"),
                    Pem.certificates(List.of(external.ca().intermediate().certificate())));
            Path key = Files.writeString(dir.resolve("intermediate-key.pem"), Pem.privateKey(external.intermediateKey()));
            return Map.of("ca.import.root-cert", root.toString(), "ca.import.intermediate-cert", intermediate.toString(),
                    "ca.import.intermediate-key", key.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What `lanyard ca sign-intermediate` does, at {@code at}. */
    public String sign(String csrPem, Duration validity, Instant at) {
        return Pem.certificates(List.of(IntermediateSigner.sign(certificate(), key(), csrPem, validity,
                Clock.fixed(at, java.time.ZoneOffset.UTC), new SecureRandom(), CryptoProviders.bouncyCastleOnly())));
    }

    /** A certificate for the CSR's key with CA:false: what a careless offline signer might produce. */
    public String signAsLeaf(String csrPem, Instant now) {
        try {
            PKCS10CertificationRequest csr = dev.lanyard.ca.IntermediateCsr.parse(csrPem);
            JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(
                    X500Name.getInstance(certificate().getSubjectX500Principal().getEncoded()), BigInteger.valueOf(7),
                    Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(300))), csr.getSubject(),
                    new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter().getPublicKey(csr.getSubjectPublicKeyInfo()));
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            return Pem.certificates(List.of(new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key())))));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
