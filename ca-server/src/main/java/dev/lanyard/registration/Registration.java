package dev.lanyard.registration;

import dev.lanyard.spiffe.SpiffeId;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Which SPIFFE ID may exist, which DNS SANs its certificates may carry, their longest lifetime, and
 * (for identities a node agent serves) the parent — an agent ID or a node selector — and the workload
 * selectors a local process must match, and the foreign trust domains whose bundles the workload gets
 * (federates_with: Lanyard must federate with each for it to have a bundle).
 */
public record Registration(SpiffeId spiffeId, List<String> dnsNames, Duration maxTtl, Instant createdAt,
        Optional<String> parentId, List<String> selectors, List<String> federatesWith) {
    public Registration {
        Objects.requireNonNull(spiffeId, "spiffeId");
        dnsNames = List.copyOf(dnsNames);
        Objects.requireNonNull(maxTtl, "maxTtl");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(parentId, "parentId");
        selectors = List.copyOf(selectors);
        federatesWith = List.copyOf(federatesWith);
    }

    /** A registration that federates with no other trust domain. */
    public Registration(SpiffeId spiffeId, List<String> dnsNames, Duration maxTtl, Instant createdAt,
            Optional<String> parentId, List<String> selectors) {
        this(spiffeId, dnsNames, maxTtl, createdAt, parentId, selectors, List.of());
    }

    /** A registration no agent serves. */
    public Registration(SpiffeId spiffeId, List<String> dnsNames, Duration maxTtl, Instant createdAt) {
        this(spiffeId, dnsNames, maxTtl, createdAt, Optional.empty(), List.of());
    }
}
