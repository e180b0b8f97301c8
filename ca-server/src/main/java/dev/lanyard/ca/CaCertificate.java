package dev.lanyard.ca;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Objects;

/**
 * A CA certificate and, when held here, its private key. An imported production root has none:
 * its key stays offline. {@link #toString()} never shows the key.
 *
 * @param keyId lower-case hex of the certificate's subject key identifier
 */
public record CaCertificate(X509Certificate certificate, PrivateKey privateKey, String keyId) {

    public CaCertificate {
        Objects.requireNonNull(certificate, "certificate");
        Objects.requireNonNull(keyId, "keyId");
    }

    public boolean hasPrivateKey() {
        return privateKey != null;
    }

    @Override
    public String toString() {
        return "CaCertificate[" + certificate.getSubjectX500Principal() + ", keyId " + keyId
                + (hasPrivateKey() ? ", key held" : ", key offline") + "]";
    }
}
