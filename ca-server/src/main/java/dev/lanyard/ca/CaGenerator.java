package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
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

/** Makes a dev CA: an ECDSA P-256 root and an intermediate under it, and later intermediates for rotation. */
public final class CaGenerator {

    private static final Duration BACKDATE = Duration.ofMinutes(5);

    private final CryptoProviders crypto;
    private final Clock clock;
    private final SerialNumbers serials;

    public CaGenerator(CryptoProviders crypto, Clock clock, SerialNumbers serials) {
        this.crypto = crypto;
        this.clock = clock;
        this.serials = serials;
    }

    public IssuingCa generate(String trustDomain, Duration rootTtl, Duration intermediateTtl) {
        KeyPair rootKeys = newKeyPair();
        Instant now = clock.instant();
        X500Name rootName = name(trustDomain + " root");
        X509Certificate root = sign(rootName, rootName, rootKeys.getPublic(), rootKeys.getPublic(), rootKeys.getPrivate(),
                now.minus(BACKDATE), now.plus(rootTtl), trustDomain, -1);
        CaCertificate rootCa = new CaCertificate(root, rootKeys.getPrivate(), X509.keyId(root));
        return new IssuingCa(rootCa, newIntermediate(rootCa, trustDomain, intermediateTtl));
    }

    /** A new intermediate under the same root, for rotation; needs the root's key. */
    public IssuingCa rotateIntermediate(IssuingCa current, String trustDomain, Duration ttl) {
        if (!current.root().hasPrivateKey()) {
            throw new IllegalStateException("the root key is offline: import a new intermediate signed by it instead");
        }
        return new IssuingCa(current.root(), newIntermediate(current.root(), trustDomain, ttl));
    }

    private CaCertificate newIntermediate(CaCertificate root, String trustDomain, Duration ttl) {
        KeyPair keys = newKeyPair();
        Instant now = clock.instant();
        Instant notAfter = now.plus(ttl);
        Instant rootNotAfter = root.certificate().getNotAfter().toInstant();
        if (notAfter.isAfter(rootNotAfter)) {
            notAfter = rootNotAfter;
        }
        String keyId = java.util.HexFormat.of().formatHex(X509.subjectKeyIdentifier(keys.getPublic()).getKeyIdentifier());
        X509Certificate certificate = sign(X500Name.getInstance(root.certificate().getSubjectX500Principal().getEncoded()),
                name(trustDomain + " intermediate " + keyId.substring(0, 8)), keys.getPublic(),
                root.certificate().getPublicKey(), root.privateKey(), now.minus(BACKDATE), notAfter, trustDomain, 0);
        return new CaCertificate(certificate, keys.getPrivate(), keyId);
    }

    private X509Certificate sign(X500Name issuer, X500Name subject, PublicKey subjectKey, PublicKey issuerKey,
            PrivateKey signingKey, Instant notBefore, Instant notAfter, String trustDomain, int pathLength) {
        try {
            BigInteger serial = serials.next();
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
            return X509.certificate(builder.build(new SignatureContentSigner(crypto,
                    SignatureContentSigner.algorithmFor(signingKey), signingKey)));
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

    private KeyPair newKeyPair() {
        try {
            KeyPairGenerator generator = crypto.keyPairGenerator("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate an ECDSA P-256 CA key", e);
        }
    }
}
