package dev.lanyard.token;

import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * A certificate as a token is bound to it: its serial number in hex (as revocations name it), its
 * {@code x5t#S256} thumbprint (the token's {@code cnf}) and its expiry (no token outlives it). Read
 * from the certificate once: a caller's is kept on its TLS session with the rest of what the caller
 * was authenticated as, rather than encoded, hashed and printed again for every call.
 */
public record BoundCertificate(String serialHex, String x5tS256, Instant notAfter) {

    public static BoundCertificate of(X509Certificate certificate) {
        try {
            return new BoundCertificate(certificate.getSerialNumber().toString(16),
                    CertificateThumbprint.x5tS256(certificate.getEncoded()), certificate.getNotAfter().toInstant());
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("the certificate cannot be encoded", e);
        }
    }
}
