package dev.lanyard.ca;

import java.math.BigInteger;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.operator.ContentSigner;

/**
 * The one profile of Lanyard's CA certificates, generated here or signed offline by
 * `lanyard ca sign-intermediate`: CA:true (path length 0 for intermediates), keyCertSign and cRLSign,
 * SKI/AKI, the trust domain's SPIFFE ID as URI SAN, no name constraints.
 */
public final class CaProfile {

    private CaProfile() {
    }

    /** A root when {@code pathLength} is negative (no limit), else an intermediate with that path length. */
    public static X509Certificate build(X500Name issuer, X500Name subject, PublicKey subjectKey, PublicKey issuerKey,
            ContentSigner signer, BigInteger serial, Instant notBefore, Instant notAfter, String trustDomain,
            int pathLength) {
        try {
            X509v3CertificateBuilder builder = new X509v3CertificateBuilder(issuer, serial, Date.from(notBefore),
                    Date.from(notAfter), subject, SubjectPublicKeyInfo.getInstance(subjectKey.getEncoded()));
            builder.addExtension(Extension.basicConstraints, true,
                    pathLength < 0 ? new BasicConstraints(true) : new BasicConstraints(pathLength));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, X509.subjectKeyIdentifier(subjectKey));
            if (!subjectKey.equals(issuerKey)) {
                builder.addExtension(Extension.authorityKeyIdentifier, false, new AuthorityKeyIdentifier(
                        X509.subjectKeyIdentifier(issuerKey).getKeyIdentifier()));
            }
            // SPIFFE: a signing certificate may carry the trust domain's own SPIFFE ID.
            builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
                    new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
            return X509.certificate(builder.build(signer));
        } catch (CertIOException e) {
            throw new IllegalStateException("cannot build a CA certificate", e);
        }
    }
}
