package dev.lanyard.token;

import dev.lanyard.spiffe.SpiffeId;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * What a token is for: the caller (from its verified certificate), one audience, the scopes, an
 * optional lifetime, and the caller's certificate thumbprint and expiry (the token is bound to it).
 */
public record TokenRequest(SpiffeId subject, String audience, Set<String> scopes, Optional<Duration> ttl,
        String certificateThumbprint, Instant callerCertificateNotAfter) {

    public TokenRequest {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(audience, "audience");
        scopes = Set.copyOf(scopes);
        Objects.requireNonNull(ttl, "ttl");
        Objects.requireNonNull(certificateThumbprint, "certificateThumbprint");
        Objects.requireNonNull(callerCertificateNotAfter, "callerCertificateNotAfter");
    }
}
