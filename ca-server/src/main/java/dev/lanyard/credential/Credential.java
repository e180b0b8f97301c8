package dev.lanyard.credential;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;

/**
 * A workload's X.509 credential: its key, its leaf, the intermediates up to (not including)
 * the root, and the trust bundle. {@link #toString()} never shows the key.
 */
public record Credential(PrivateKey privateKey, X509Certificate leaf, List<X509Certificate> chain,
        List<X509Certificate> bundle) {

    public Credential {
        Objects.requireNonNull(privateKey, "privateKey");
        Objects.requireNonNull(leaf, "leaf");
        chain = List.copyOf(chain);
        bundle = List.copyOf(bundle);
    }

    /** Leaf first, then the intermediates: what a TLS handshake sends. */
    public X509Certificate[] certificateChain() {
        X509Certificate[] all = new X509Certificate[chain.size() + 1];
        all[0] = leaf;
        for (int i = 0; i < chain.size(); i++) {
            all[i + 1] = chain.get(i);
        }
        return all;
    }

    private static final byte[] PROBE = "lanyard credential pairing".getBytes(StandardCharsets.US_ASCII);

    /**
     * The key signs what the leaf's public key verifies: false for the key of another credential (a
     * directory read while it was being rewritten). With the JDK's providers, so a command line need
     * not load Bouncy Castle; true for a key type they do not sign with, left to the TLS handshake.
     */
    public boolean keyMatchesCertificate() {
        String algorithm = switch (leaf.getPublicKey().getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (algorithm == null) {
            return true;
        }
        try {
            Signature sign = Signature.getInstance(algorithm);
            sign.initSign(privateKey);
            sign.update(PROBE);
            Signature verify = Signature.getInstance(algorithm);
            verify.initVerify(leaf.getPublicKey());
            verify.update(PROBE);
            return verify.verify(sign.sign());
        } catch (InvalidKeyException | SignatureException e) {
            return false; // a key of another kind than the certificate's
        } catch (NoSuchAlgorithmException e) {
            return true; // cannot check here; the TLS handshake will
        }
    }

    @Override
    public String toString() {
        return "Credential[" + leaf.getSubjectX500Principal() + ", serial " + leaf.getSerialNumber().toString(16)
                + ", notAfter " + leaf.getNotAfter().toInstant() + "]";
    }
}
