package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;

/** A production CA made elsewhere: the root certificate (its key stays offline) and the issuing intermediate with its key. */
public final class CaImporter {

    private CaImporter() {
    }

    public static IssuingCa fromPem(String rootCertPem, String intermediateCertPem, String intermediateKeyPem,
            CryptoProviders crypto, Clock clock) {
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
        return new IssuingCa(new CaCertificate(root, null, X509.keyId(root)),
                new CaCertificate(intermediate, key, X509.keyId(intermediate)));
    }

    private static X509Certificate single(String pem, String what) {
        List<X509Certificate> certificates = Pem.parseCertificates(pem);
        if (certificates.size() != 1) {
            throw new IllegalArgumentException("the " + what + " file must hold exactly one certificate, not "
                    + certificates.size());
        }
        return certificates.get(0);
    }

    /** Signs a probe with the key and verifies it with the certificate's public key. */
    private static boolean keyMatches(PrivateKey key, X509Certificate certificate, CryptoProviders crypto) {
        try {
            String algorithm = SignatureContentSigner.algorithmFor(key);
            byte[] probe = "lanyard key match probe".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature signer = crypto.signature(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm, crypto.bouncyCastle());
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }
}
