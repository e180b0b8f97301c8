package dev.lanyard.testing;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** An existing node PKI for x509pop tests: a root made here and node certificates it signs. */
public final class NodePki {

    private final KeyPair rootKeys = Csrs.ecP256();
    private final X509Certificate root;
    private long serial = 1;

    public NodePki(String name, Instant now) {
        root = sign(new X500Name("CN=" + name), rootKeys, now.minusSeconds(3600), now.plusSeconds(86_400 * 30), true,
                null, new X500Name("CN=" + name), rootKeys);
    }

    public X509Certificate root() {
        return root;
    }

    /** Writes the root as PEM (what x509pop.roots names). */
    public Path writeRoot(Path file) throws java.io.IOException {
        Files.writeString(file, dev.lanyard.crypto.Pem.certificates(java.util.List.of(root)));
        return file;
    }

    /** A node certificate for {@code keys}, CN {@code cn} and DNS SAN {@code cn}.example, valid between the times. */
    public X509Certificate node(String cn, KeyPair keys, Instant notBefore, Instant notAfter) {
        return node(cn, keys, notBefore, notAfter, KeyUsage.digitalSignature);
    }

    /**
     * As {@link #node(String, KeyPair, Instant, Instant)}, with key usage {@code keyUsage} (a {@link KeyUsage}
     * bit mask; 0 for none) and, when given, these extended key usages.
     */
    public X509Certificate node(String cn, KeyPair keys, Instant notBefore, Instant notAfter, int keyUsage,
            KeyPurposeId... extendedKeyUsage) {
        return sign(new X500Name("CN=" + cn), keys, notBefore, notAfter, false, cn + ".example",
                new X500Name(root.getSubjectX500Principal().getName()), rootKeys, keyUsage, extendedKeyUsage);
    }

    private X509Certificate sign(X500Name subject, KeyPair subjectKeys, Instant notBefore, Instant notAfter, boolean ca,
            String dns, X500Name issuer, KeyPair issuerKeys) {
        return sign(subject, subjectKeys, notBefore, notAfter, ca, dns, issuer, issuerKeys,
                KeyUsage.keyCertSign | KeyUsage.cRLSign);
    }

    private X509Certificate sign(X500Name subject, KeyPair subjectKeys, Instant notBefore, Instant notAfter, boolean ca,
            String dns, X500Name issuer, KeyPair issuerKeys, int keyUsage, KeyPurposeId... extendedKeyUsage) {
        try {
            var builder = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(serial++), Date.from(notBefore),
                    Date.from(notAfter), subject, subjectKeys.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            if (keyUsage != 0) {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(keyUsage));
            }
            if (extendedKeyUsage.length > 0) {
                builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(extendedKeyUsage));
            }
            if (dns != null) {
                builder.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, dns)));
            }
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
        } catch (GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException
                | org.bouncycastle.cert.CertIOException e) {
            throw new IllegalStateException(e);
        }
    }
}
