package dev.lanyard.client.credentials;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The SHA-256 fingerprint of the root a workload trusts before it holds the bundle, as
 * {@code lanyard} prints it ("sha256:" and 64 hex digits; colons between bytes are accepted).
 */
final class PinnedRoot {

    private static final String PREFIX = "sha256:";

    private final byte[] sha256;

    private PinnedRoot(byte[] sha256) {
        this.sha256 = sha256;
    }

    static PinnedRoot parse(String fingerprint) {
        if (fingerprint == null || fingerprint.isBlank()) {
            throw new IllegalArgumentException("a pinned root fingerprint is required");
        }
        String hex = fingerprint.trim().toLowerCase(Locale.ROOT);
        int colon = hex.indexOf(':');
        if (colon >= 0 && !hex.substring(0, colon).matches("[0-9a-f]{2}")) {
            // An algorithm prefix: only SHA-256 is accepted.
            if (!hex.startsWith(PREFIX)) {
                throw new IllegalArgumentException("the pinned root fingerprint must be SHA-256 (\"sha256:<64 hex "
                        + "digits>\"), not " + hex.substring(0, colon));
            }
            hex = hex.substring(PREFIX.length());
        }
        hex = hex.replace(":", "");
        if (!hex.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("the pinned root fingerprint must be \"sha256:\" and 64 hex digits, "
                    + "as `lanyard` prints it");
        }
        return new PinnedRoot(HexFormat.of().parseHex(hex));
    }

    boolean matches(X509Certificate certificate) {
        try {
            return MessageDigest.isEqual(sha256, MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (CertificateEncodingException e) {
            return false;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    Optional<X509Certificate> select(List<X509Certificate> bundle) {
        return bundle.stream().filter(this::matches).findFirst();
    }

    @Override
    public String toString() {
        return PREFIX + HexFormat.of().formatHex(sha256);
    }
}
