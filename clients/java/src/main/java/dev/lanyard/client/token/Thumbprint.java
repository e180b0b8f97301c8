package dev.lanyard.client.token;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Base64;

/** RFC 8705 certificate thumbprints: what a token's {@code cnf} claim binds it to. */
public final class Thumbprint {

    private Thumbprint() {
    }

    /** {@code x5t#S256}: base64url (no padding) of the SHA-256 of the certificate's DER. */
    public static String x5tS256(X509Certificate certificate) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (CertificateEncodingException e) {
            throw new IllegalArgumentException("cannot encode the certificate: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
