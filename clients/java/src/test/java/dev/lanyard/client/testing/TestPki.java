package dev.lanyard.client.testing;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509KeyManager;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A root → intermediate → leaf hierarchy for tests, made with Bouncy Castle the way a CA makes
 * it: SPIFFE IDs in the URI SAN, CA:false leaves with serverAuth and clientAuth.
 */
public final class TestPki {

    /** A leaf's key and chain (leaf, then the intermediate). */
    public record Held(PrivateKey privateKey, X509Certificate leaf, X509Certificate intermediate) {

        public X509Certificate[] chain() {
            return new X509Certificate[] {leaf, intermediate};
        }

        public X509KeyManager keyManager() {
            try {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                store.setKeyEntry("leaf", privateKey, new char[0], chain());
                KeyManagerFactory factory = KeyManagerFactory.getInstance("PKIX");
                factory.init(store, new char[0]);
                return (X509KeyManager) factory.getKeyManagers()[0];
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public String toString() {
            return "Held[" + leaf.getSerialNumber().toString(16) + "]";
        }
    }

    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final KeyPair rootKeys = ecP256();
    private final X500Name rootName;
    private final X509Certificate root;
    private final KeyPair intermediateKeys = ecP256();
    private final X500Name intermediateName;
    private final X509Certificate intermediate;

    public TestPki(Clock clock, String trustDomain) {
        this.clock = clock;
        this.rootName = new X500Name("O=" + trustDomain + ", CN=test root");
        this.root = sign(rootKeys, rootName, rootKeys, rootName, Duration.ofDays(1), true, List.of());
        this.intermediateName = new X500Name("O=" + trustDomain + ", CN=test intermediate");
        this.intermediate = sign(intermediateKeys, intermediateName, rootKeys, rootName, Duration.ofHours(12), true,
                List.of());
    }

    public X509Certificate root() {
        return root;
    }

    /** A leaf for {@code spiffeId} (and DNS names), valid for an hour from the clock's now. */
    public Held leaf(String spiffeId, String... dnsNames) {
        KeyPair keys = ecP256();
        List<GeneralName> names = new ArrayList<>();
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, spiffeId));
        for (String dns : dnsNames) {
            names.add(new GeneralName(GeneralName.dNSName, dns));
        }
        X509Certificate leaf = sign(keys, new X500Name(""), intermediateKeys, intermediateName, Duration.ofHours(1),
                false, names);
        return new Held(keys.getPrivate(), leaf, intermediate);
    }

    /** A leaf for {@code spiffeId} on someone else's key (a CSR's), valid for an hour from the clock's now. */
    public X509Certificate leaf(PublicKey key, String spiffeId) {
        return sign(new KeyPair(key, null), new X500Name(""), intermediateKeys, intermediateName, Duration.ofHours(1),
                false, List.of(new GeneralName(GeneralName.uniformResourceIdentifier, spiffeId)));
    }

    /** The intermediate that signs the leaves. */
    public X509Certificate intermediate() {
        return intermediate;
    }

    /** Trusts this hierarchy's root. */
    public X509TrustManager trustManager() {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setCertificateEntry("root", root);
            TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
            factory.init(store);
            return (X509TrustManager) factory.getTrustManagers()[0];
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private X509Certificate sign(KeyPair subjectKeys, X500Name subject, KeyPair issuerKeys, X500Name issuer,
            Duration ttl, boolean ca, List<GeneralName> sans) {
        try {
            Instant now = clock.instant();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer,
                    new BigInteger(128, random).setBit(127), Date.from(now.minusSeconds(60)), Date.from(now.plus(ttl)),
                    subject, subjectKeys.getPublic());
            JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            builder.addExtension(Extension.subjectKeyIdentifier, false,
                    utils.createSubjectKeyIdentifier(subjectKeys.getPublic()));
            builder.addExtension(Extension.authorityKeyIdentifier, false,
                    utils.createAuthorityKeyIdentifier(issuerKeys.getPublic()));
            if (ca) {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
                builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
                builder.addExtension(Extension.subjectAlternativeName, true,
                        new GeneralNames(sans.toArray(GeneralName[]::new)));
            }
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public static KeyPair ecP256() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
