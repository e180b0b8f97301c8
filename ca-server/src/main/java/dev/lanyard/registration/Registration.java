package dev.lanyard.registration;

import dev.lanyard.spiffe.SpiffeId;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/** Which SPIFFE ID may exist, which DNS SANs its certificates may carry, and their longest lifetime. */
public record Registration(SpiffeId spiffeId, List<String> dnsNames, Duration maxTtl, Instant createdAt) {
    public Registration {
        Objects.requireNonNull(spiffeId, "spiffeId");
        dnsNames = List.copyOf(dnsNames);
        Objects.requireNonNull(maxTtl, "maxTtl");
        Objects.requireNonNull(createdAt, "createdAt");
    }
}
