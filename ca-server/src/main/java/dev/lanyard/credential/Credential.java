package dev.lanyard.credential;

import dev.lanyard.crypto.KeyPairing;
import java.security.PrivateKey;
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

    /**
     * The key is the leaf's: false for the key of another credential (a directory read while it was
     * being rewritten). With the JDK's providers, so a command line need not load Bouncy Castle.
     */
    public boolean keyMatchesCertificate() {
        return KeyPairing.matches(privateKey, leaf.getPublicKey());
    }

    @Override
    public String toString() {
        return "Credential[" + leaf.getSubjectX500Principal() + ", serial " + leaf.getSerialNumber().toString(16)
                + ", notAfter " + leaf.getNotAfter().toInstant() + "]";
    }
}
