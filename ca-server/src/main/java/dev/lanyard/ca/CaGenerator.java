package dev.lanyard.ca;

import dev.lanyard.custody.KeyAlgorithm;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Signer;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;

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
        CaCertificate rootCa = newRoot(trustDomain, rootTtl);
        return new IssuingCa(rootCa, newIntermediate(rootCa, trustDomain, intermediateTtl));
    }

    /** A new self-signed root with its key in custody: the first one, or the next one of a root rotation. */
    public CaCertificate newRoot(String trustDomain, Duration ttl) {
        Signer rootKey = newKey();
        Instant now = clock.instant();
        String keyId = keyId(rootKey);
        // The key id in the name: two generations of roots must never share a subject.
        X500Name rootName = name(trustDomain + " root " + keyId.substring(0, 8));
        X509Certificate root = sign(rootName, rootName, rootKey.publicKey(), rootKey, now.minus(BACKDATE),
                now.plus(ttl), trustDomain, -1);
        return new CaCertificate(root, rootKey, keyId);
    }

    /** A new intermediate under {@code root}, for rotation; needs the root's key. */
    public IssuingCa intermediateUnder(CaCertificate root, String trustDomain, Duration ttl) {
        if (!root.hasSigner()) {
            throw new IllegalStateException("the root key is offline: import a new intermediate signed by it instead");
        }
        return new IssuingCa(root, newIntermediate(root, trustDomain, ttl));
    }

    private CaCertificate newIntermediate(CaCertificate root, String trustDomain, Duration ttl) {
        Signer key = newKey();
        Instant now = clock.instant();
        Instant notAfter = now.plus(ttl);
        Instant rootNotAfter = root.certificate().getNotAfter().toInstant();
        if (notAfter.isAfter(rootNotAfter)) {
            notAfter = rootNotAfter;
        }
        String keyId = keyId(key);
        X509Certificate certificate = sign(X500Name.getInstance(root.certificate().getSubjectX500Principal().getEncoded()),
                name(trustDomain + " intermediate " + keyId.substring(0, 8)), key.publicKey(),
                root.signer(), now.minus(BACKDATE), notAfter, trustDomain, 0);
        return new CaCertificate(certificate, key, keyId);
    }

    private X509Certificate sign(X500Name issuer, X500Name subject, PublicKey subjectKey, Signer issuerKey,
            Instant notBefore, Instant notAfter, String trustDomain, int pathLength) {
        return CaProfile.build(issuer, subject, subjectKey, issuerKey.publicKey(), new SignatureContentSigner(issuerKey),
                serials.next(), notBefore, notAfter, trustDomain, pathLength);
    }

    static String keyId(Signer key) {
        return java.util.HexFormat.of().formatHex(X509.subjectKeyIdentifier(key.publicKey()).getKeyIdentifier());
    }

    /** The subject of the next intermediate with key id {@code keyId}. */
    static X500Name intermediateName(String trustDomain, String keyId) {
        return name(trustDomain + " intermediate " + keyId.substring(0, 8));
    }

    private static X500Name name(String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "Lanyard")
                .addRDN(BCStyle.CN, commonName)
                .build();
    }

    /** A CA key in custody under a fresh random id (the key id, the SKI, is known only once the key exists). */
    Signer newKey() {
        return custody.generate("ca-" + serials.next().toString(16), KeyAlgorithm.ES256);
    }
}
