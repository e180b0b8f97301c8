package dev.lanyard.token;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/** RFC 8705 {@code x5t#S256}: base64url (no padding) of SHA-256 of the certificate's DER. */
public final class CertificateThumbprint {

    private CertificateThumbprint() {
    }

    public static String x5tS256(byte[] certificateDer) {
        try {
            return Base64.getUrlEncoder().withoutPadding()
                    .encodeToString(MessageDigest.getInstance("SHA-256").digest(certificateDer));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
