package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Signer;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;

/**
 * A production CA made elsewhere: the root certificate (its key stays offline) and the issuing
 * intermediate, whose key is taken into custody once every check has passed.
 */
public final class CaImporter {

    private CaImporter() {
    }

    public static IssuingCa fromPem(String rootCertPem, String intermediateCertPem, String intermediateKeyPem,
            KeyCustody custody, CryptoProviders crypto, Clock clock) {
        X509Certificate root = single(rootCertPem, "root certificate");
        X509Certificate intermediate = single(intermediateCertPem, "intermediate certificate");
        PrivateKey key = Pem.parsePrivateKey(intermediateKeyPem, crypto);
        if (root.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("the root certificate is not a CA certificate");
        }
        if (intermediate.getBasicConstraints() < 0) {
            throw new IllegalArgumentException("the intermediate certificate is not a CA certificate");
        }
        boolean[] usage = intermediate.getKeyUsage();
        if (usage != null && !usage[5]) {
            throw new IllegalArgumentException("the intermediate certificate may not sign certificates (no keyCertSign)");
        }
        try {
            intermediate.verify(root.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("the intermediate certificate is not signed by the root");
        }
        try {
            root.checkValidity(java.util.Date.from(clock.instant()));
            intermediate.checkValidity(java.util.Date.from(clock.instant()));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("the imported CA is not valid now: " + e.getMessage());
        }
        if (!keyMatches(key, intermediate, crypto)) {
            throw new IllegalArgumentException("the intermediate key does not belong to the intermediate certificate");
        }
        String keyId = X509.keyId(intermediate);
        Signer signer = custody.importKey("ca-imported-" + keyId, algorithmOf(intermediate), key);
        return new IssuingCa(new CaCertificate(root, null, X509.keyId(root)),
                new CaCertificate(intermediate, signer, keyId));
    }

    private static X509Certificate single(String pem, String what) {
        List<X509Certificate> certificates = Pem.parseCertificates(pem);
        if (certificates.size() != 1) {
            throw new IllegalArgumentException("the " + what + " file must hold exactly one certificate, not "
                    + certificates.size());
        }
        return certificates.get(0);
    }

    /** The scheme the imported key signs with: SHA-256 for P-256 and RSA, SHA-384 for P-384. */
    private static dev.lanyard.custody.KeyAlgorithm algorithmOf(X509Certificate certificate) {
        java.security.PublicKey key = certificate.getPublicKey();
        return switch (key.getAlgorithm()) {
            case "EC" -> ((java.security.interfaces.ECKey) key).getParams().getCurve().getField().getFieldSize() > 256
                    ? dev.lanyard.custody.KeyAlgorithm.ES384 : dev.lanyard.custody.KeyAlgorithm.ES256;
            case "RSA" -> dev.lanyard.custody.KeyAlgorithm.RS256;
            case "Ed25519", "EdDSA" -> dev.lanyard.custody.KeyAlgorithm.EdDSA;
            default -> throw new IllegalArgumentException("unsupported intermediate key algorithm " + key.getAlgorithm());
        };
    }

    /** Signs a probe with the key and verifies it with the certificate's public key. */
    private static boolean keyMatches(PrivateKey key, X509Certificate certificate, CryptoProviders crypto) {
        try {
            String algorithm = algorithmOf(certificate).jcaSignature();
            byte[] probe = "lanyard key match probe".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            java.security.Signature signer = crypto.signature(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            java.security.Signature verifier = java.security.Signature.getInstance(algorithm, crypto.bouncyCastle());
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }
}
