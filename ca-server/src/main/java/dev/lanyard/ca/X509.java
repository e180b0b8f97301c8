package dev.lanyard.ca;

import java.io.ByteArrayInputStream;
import java.security.PublicKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.bc.BcX509ExtensionUtils;

/** Small X.509 conversions shared by the CA classes. */
final class X509 {

    private static final BcX509ExtensionUtils EXTENSIONS = new BcX509ExtensionUtils();

    private X509() {
    }

    static X509Certificate certificate(X509CertificateHolder holder) {
        try {
            return certificate(holder.getEncoded());
        } catch (java.io.IOException e) {
            throw new IllegalStateException("a certificate we built cannot be encoded", e);
        }
    }

    static X509Certificate certificate(byte[] der) {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
        } catch (CertificateException e) {
            throw new IllegalStateException("a certificate we built cannot be parsed", e);
        }
    }

    /** RFC 5280 method 1 key identifier (SHA-1 of the subjectPublicKey bits). */
    static SubjectKeyIdentifier subjectKeyIdentifier(PublicKey key) {
        return EXTENSIONS.createSubjectKeyIdentifier(SubjectPublicKeyInfo.getInstance(key.getEncoded()));
    }

    /** Lower-case hex of the certificate's SKI extension, or of a computed one if it has none. */
    static String keyId(X509Certificate certificate) {
        byte[] extension = certificate.getExtensionValue(Extension.subjectKeyIdentifier.getId());
        byte[] id = extension == null
                ? subjectKeyIdentifier(certificate.getPublicKey()).getKeyIdentifier()
                : SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(extension).getOctets())
                        .getKeyIdentifier();
        return HexFormat.of().formatHex(id);
    }
}
