package dev.lanyard.federation;

import dev.lanyard.spiffe.SpiffeId;
import java.net.URI;
import java.time.Instant;
import java.util.Optional;

/** Where a foreign trust domain's bundle comes from and how its endpoint is authenticated. */
public record FederationRelationship(String trustDomain, URI endpoint, Profile profile, Optional<SpiffeId> endpointId,
        Instant createdAt) {

    /** The bundle endpoint profiles of the SPIFFE Trust Domain and Bundle spec. */
    public enum Profile { HTTPS_WEB, HTTPS_SPIFFE }
}
