package dev.lanyard.testing;

import dev.lanyard.crypto.Pem;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A self-signed "web PKI" server certificate for DNS names, as an operator would put behind
 * {@code http.tls=web}: the test trusts it directly, as a browser trusts a public CA.
 */
public record WebPki(KeyPair keys, X509Certificate certificate) {

    public static WebPki selfSigned(String... dnsNames) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair keys = generator.generateKeyPair();
            X500Name name = new X500Name("CN=" + dnsNames[0]);
            Instant now = Instant.now();
            GeneralName[] sans = new GeneralName[dnsNames.length];
            for (int i = 0; i < dnsNames.length; i++) {
                sans[i] = new GeneralName(GeneralName.dNSName, dnsNames[i]);
            }
            var builder = new JcaX509v3CertificateBuilder(name, new BigInteger(64, new java.security.SecureRandom()).abs()
                    .add(BigInteger.ONE), Date.from(now.minusSeconds(60)), Date.from(now.plus(Duration.ofDays(30))),
                    name, keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
            X509Certificate certificate = new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
            return new WebPki(keys, certificate);
        } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the certificate and its PKCS#8 key as PEM (replacing what is there). */
    public void write(Path certificateFile, Path keyFile) throws IOException {
        Files.writeString(certificateFile, Pem.certificates(List.of(certificate)), StandardCharsets.US_ASCII);
        Files.writeString(keyFile, Pem.privateKey(keys.getPrivate()), StandardCharsets.US_ASCII);
    }
}
