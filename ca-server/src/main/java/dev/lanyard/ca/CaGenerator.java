package dev.lanyard.ca;

import dev.lanyard.custody.KeyAlgorithm;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Signer;
import java.math.BigInteger;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;

/**
 * Makes a dev CA: an ECDSA P-256 root and an intermediate under it, and later intermediates for
 * rotation; every key is made in custody and signs through it.
 */
public final class CaGenerator {

    private static final Duration BACKDATE = Duration.ofMinutes(5);

    private final KeyCustody custody;
    private final Clock clock;
    private final SerialNumbers serials;

    public CaGenerator(KeyCustody custody, Clock clock, SerialNumbers serials) {
        this.custody = custody;
        this.clock = clock;
        this.serials = serials;
    }

    public IssuingCa generate(String trustDomain, Duration rootTtl, Duration intermediateTtl) {
        Signer rootKey = newKey();
        Instant now = clock.instant();
        X500Name rootName = name(trustDomain + " root");
        X509Certificate root = sign(rootName, rootName, rootKey.publicKey(), rootKey, now.minus(BACKDATE),
                now.plus(rootTtl), trustDomain, -1);
        CaCertificate rootCa = new CaCertificate(root, rootKey, X509.keyId(root));
        return new IssuingCa(rootCa, newIntermediate(rootCa, trustDomain, intermediateTtl));
    }

    /** A new intermediate under the same root, for rotation; needs the root's key. */
    public IssuingCa rotateIntermediate(IssuingCa current, String trustDomain, Duration ttl) {
        if (!current.root().hasSigner()) {
            throw new IllegalStateException("the root key is offline: import a new intermediate signed by it instead");
        }
        return new IssuingCa(current.root(), newIntermediate(current.root(), trustDomain, ttl));
    }

    private CaCertificate newIntermediate(CaCertificate root, String trustDomain, Duration ttl) {
        Signer key = newKey();
        Instant now = clock.instant();
        Instant notAfter = now.plus(ttl);
        Instant rootNotAfter = root.certificate().getNotAfter().toInstant();
        if (notAfter.isAfter(rootNotAfter)) {
            notAfter = rootNotAfter;
        }
        String keyId = java.util.HexFormat.of().formatHex(X509.subjectKeyIdentifier(key.publicKey()).getKeyIdentifier());
        X509Certificate certificate = sign(X500Name.getInstance(root.certificate().getSubjectX500Principal().getEncoded()),
                name(trustDomain + " intermediate " + keyId.substring(0, 8)), key.publicKey(),
                root.signer(), now.minus(BACKDATE), notAfter, trustDomain, 0);
        return new CaCertificate(certificate, key, keyId);
    }

    private X509Certificate sign(X500Name issuer, X500Name subject, PublicKey subjectKey, Signer issuerKey,
            Instant notBefore, Instant notAfter, String trustDomain, int pathLength) {
        try {
            BigInteger serial = serials.next();
            X509v3CertificateBuilder builder = new X509v3CertificateBuilder(issuer, serial, Date.from(notBefore),
                    Date.from(notAfter), subject, SubjectPublicKeyInfo.getInstance(subjectKey.getEncoded()));
            builder.addExtension(Extension.basicConstraints, true,
                    pathLength < 0 ? new BasicConstraints(true) : new BasicConstraints(pathLength));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            builder.addExtension(Extension.subjectKeyIdentifier, false, X509.subjectKeyIdentifier(subjectKey));
            if (!subjectKey.equals(issuerKey.publicKey())) {
                builder.addExtension(Extension.authorityKeyIdentifier, false, new AuthorityKeyIdentifier(
                        X509.subjectKeyIdentifier(issuerKey.publicKey()).getKeyIdentifier()));
            }
            // SPIFFE: a signing certificate may carry the trust domain's own SPIFFE ID.
            builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
                    new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
            return X509.certificate(builder.build(new SignatureContentSigner(issuerKey)));
        } catch (CertIOException e) {
            throw new IllegalStateException("cannot build a CA certificate", e);
        }
    }

    private static X500Name name(String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "Lanyard")
                .addRDN(BCStyle.CN, commonName)
                .build();
    }

    /** A CA key in custody under a fresh random id (the key id, the SKI, is known only once the key exists). */
    private Signer newKey() {
        return custody.generate("ca-" + serials.next().toString(16), KeyAlgorithm.ES256);
    }
}
