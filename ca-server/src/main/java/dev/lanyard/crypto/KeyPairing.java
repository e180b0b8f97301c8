package dev.lanyard.crypto;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Optional;

/** Which signature a key makes, and whether a private key is the one behind a public key. */
public final class KeyPairing {

    private static final byte[] PROBE = "lanyard key pairing".getBytes(StandardCharsets.US_ASCII);

    private KeyPairing() {
    }

    /** The JCA signature for a key of this algorithm (EC, RSA, Ed25519), SHA-256 where it takes a hash. */
    public static Optional<String> signatureFor(String keyAlgorithm) {
        return Optional.ofNullable(switch (keyAlgorithm) {
            case "EC", "ECDSA" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        });
    }

    /** {@code key} signs what {@code publicKey} verifies: works for every key type alike. */
    public static boolean matches(PrivateKey key, PublicKey publicKey) {
        Optional<String> algorithm = signatureFor(publicKey.getAlgorithm());
        if (algorithm.isEmpty()) {
            return false;
        }
        try {
            Signature signer = Signature.getInstance(algorithm.get());
            signer.initSign(key);
            signer.update(PROBE);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm.get());
            verifier.initVerify(publicKey);
            verifier.update(PROBE);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false; // a key of another kind than the public key's
        }
    }
}
