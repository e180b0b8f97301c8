package dev.lanyard.client.credentials;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Objects;

/**
 * A workload's X.509-SVID: its private key (made here, never sent), its leaf certificate, the
 * intermediates up to the root, and the trust bundle the server sent with it.
 * {@link #toString()} never shows the key.
 */
public record Svid(String spiffeId, PrivateKey privateKey, X509Certificate leaf, List<X509Certificate> chain,
        List<X509Certificate> bundle) {

    public Svid {
        Objects.requireNonNull(spiffeId, "spiffeId");
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

    /** The leaf's serial number in lower-case hex. */
    public String serialHex() {
        return leaf.getSerialNumber().toString(16);
    }

    @Override
    public String toString() {
        return "Svid[" + spiffeId + ", serial " + serialHex() + ", notAfter " + leaf.getNotAfter().toInstant() + "]";
    }
}
