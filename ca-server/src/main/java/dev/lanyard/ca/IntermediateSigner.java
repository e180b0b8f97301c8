package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;

/**
 * `lanyard ca sign-intermediate`: what an offline root does with the CSR of `lanyard ca prepare`, for
 * labs (production roots sign with their own tooling, to the same profile: {@link CaProfile}). No
 * server involved; the root's key is read from a file and used once.
 */
public final class IntermediateSigner {

    private static final Duration BACKDATE = Duration.ofMinutes(5);

    private IntermediateSigner() {
    }

    /**
     * Signs the CSR's key as an intermediate under {@code root}, valid from a few minutes ago for
     * {@code validity} (cut at the root's own end).
     *
     * @throws IllegalArgumentException naming what is wrong with the root, its key or the CSR
     */
    public static X509Certificate sign(X509Certificate root, PrivateKey rootKey, String csrPem, Duration validity,
            Clock clock, SecureRandom random, CryptoProviders crypto) {
        if (root.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("the root certificate is not a CA certificate (no CA:true)");
        }
        if (validity.isNegative() || validity.isZero()) {
            throw new IllegalArgumentException("the validity must be positive");
        }
        if (!keyMatches(rootKey, root.getPublicKey(), crypto)) {
            throw new IllegalArgumentException("the root key does not belong to the root certificate");
        }
        PKCS10CertificationRequest csr = IntermediateCsr.parse(csrPem);
        PublicKey subjectKey;
        try {
            subjectKey = new JcaPEMKeyConverter().setProvider(crypto.bouncyCastle())
                    .getPublicKey(csr.getSubjectPublicKeyInfo());
        } catch (org.bouncycastle.openssl.PEMException e) {
            throw new IllegalArgumentException("the CSR's public key cannot be read: " + e.getMessage());
        }
        Instant now = clock.instant();
        Instant notAfter = now.plus(validity);
        Instant rootEnd = root.getNotAfter().toInstant();
        if (!rootEnd.isAfter(now)) {
            throw new IllegalArgumentException("the root certificate expired at " + rootEnd);
        }
        if (notAfter.isAfter(rootEnd)) {
            notAfter = rootEnd;
        }
        return CaProfile.build(X500Name.getInstance(root.getSubjectX500Principal().getEncoded()), csr.getSubject(),
                subjectKey, root.getPublicKey(), contentSigner(rootKey, root.getPublicKey(), crypto),
                new BigInteger(128, random).setBit(127), now.minus(BACKDATE), notAfter, trustDomain(root), 0);
    }

    /** The trust domain of the root's SPIFFE ID (Lanyard's roots carry spiffe://TD as URI SAN). */
    static String trustDomain(X509Certificate root) {
        try {
            List<String> uris = root.getSubjectAlternativeNames() == null ? List.of()
                    : root.getSubjectAlternativeNames().stream().filter(san -> (Integer) san.get(0) == 6)
                            .map(san -> (String) san.get(1)).filter(uri -> uri.startsWith("spiffe://")).toList();
            if (uris.size() != 1) {
                throw new IllegalArgumentException("the root certificate carries no SPIFFE ID (one URI SAN"
                        + " spiffe://TRUST-DOMAIN) to name the intermediate's trust domain");
            }
            return uris.get(0).substring("spiffe://".length());
        } catch (CertificateParsingException e) {
            throw new IllegalArgumentException("the root certificate's names cannot be read: " + e.getMessage());
        }
    }

    private static ContentSigner contentSigner(PrivateKey key, PublicKey publicKey, CryptoProviders crypto) {
        try {
            return new JcaContentSignerBuilder(algorithm(publicKey)).setProvider(crypto.bouncyCastle()).build(key);
        } catch (OperatorCreationException e) {
            throw new IllegalArgumentException("cannot sign with the root key: " + e.getMessage());
        }
    }

    /** SHA-256 for P-256 and RSA, SHA-384 for P-384, as the CA's own keys sign. */
    private static String algorithm(PublicKey key) {
        return switch (key.getAlgorithm()) {
            case "EC", "ECDSA" -> ((ECKey) key).getParams().getCurve().getField().getFieldSize() > 256
                    ? "SHA384withECDSA" : "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            default -> throw new IllegalArgumentException("unsupported root key algorithm " + key.getAlgorithm());
        };
    }

    private static boolean keyMatches(PrivateKey key, PublicKey publicKey, CryptoProviders crypto) {
        try {
            String algorithm = algorithm(publicKey);
            byte[] probe = "lanyard key match probe".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm, crypto.bouncyCastle());
            signer.initSign(key);
            signer.update(probe);
            Signature verifier = Signature.getInstance(algorithm, crypto.bouncyCastle());
            verifier.initVerify(publicKey);
            verifier.update(probe);
            return verifier.verify(signer.sign());
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }
}
