package dev.lanyard.ca;

import dev.lanyard.spiffe.SpiffeId;
import java.time.Instant;
import java.util.Objects;

/** What the store keeps of an issued certificate: never the key, never the DER. */
public record IssuedCertificateRecord(
        String serialHex, SpiffeId spiffeId, Instant notBefore, Instant notAfter, String sha256Fingerprint,
        Instant issuedAt, String issuerKeyId) {
    public IssuedCertificateRecord {
        Objects.requireNonNull(serialHex, "serialHex");
        Objects.requireNonNull(spiffeId, "spiffeId");
        Objects.requireNonNull(notBefore, "notBefore");
        Objects.requireNonNull(notAfter, "notAfter");
        Objects.requireNonNull(sha256Fingerprint, "sha256Fingerprint");
        Objects.requireNonNull(issuedAt, "issuedAt");
        Objects.requireNonNull(issuerKeyId, "issuerKeyId");
    }
}
