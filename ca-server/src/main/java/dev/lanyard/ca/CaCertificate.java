package dev.lanyard.ca;

import dev.lanyard.custody.Signer;
import java.security.cert.X509Certificate;
import java.util.Objects;

/**
 * A CA certificate and, when its key is held here, the custody signer for it. An imported
 * production root has none: its key stays offline.
 *
 * @param keyId lower-case hex of the certificate's subject key identifier
 */
public record CaCertificate(X509Certificate certificate, Signer signer, String keyId) {

    public CaCertificate {
        Objects.requireNonNull(certificate, "certificate");
        Objects.requireNonNull(keyId, "keyId");
    }

    public boolean hasSigner() {
        return signer != null;
    }

    @Override
    public String toString() {
        return "CaCertificate[" + certificate.getSubjectX500Principal() + ", keyId " + keyId
                + (hasSigner() ? ", key in custody " + signer.id() : ", key offline") + "]";
    }
}
