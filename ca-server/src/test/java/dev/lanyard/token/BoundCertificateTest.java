package dev.lanyard.token;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

class BoundCertificateTest {

    @Test
    void readsTheSerialTheThumbprintAndTheExpiryAsTheyWereReadPerToken() throws Exception {
        BigInteger serial = new BigInteger("0af3000000000000000000000000001", 16); // a leading zero nibble
        Instant notAfter = Instant.now().plus(1, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
        X509Certificate certificate = certificate(serial, notAfter);

        BoundCertificate bound = BoundCertificate.of(certificate);

        assertThat(bound.serialHex()).isEqualTo("af3000000000000000000000000001")
                .isEqualTo(certificate.getSerialNumber().toString(16));
        assertThat(bound.x5tS256()).isEqualTo(Base64.getUrlEncoder().withoutPadding()
                .encodeToString(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded())));
        assertThat(bound.notAfter()).isEqualTo(notAfter);
    }

    private static X509Certificate certificate(BigInteger serial, Instant notAfter) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair keys = generator.generateKeyPair();
        X500Name subject = new X500Name("CN=bound");
        return new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(subject, serial,
                new Date(), Date.from(notAfter), subject, keys.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));
    }
}
