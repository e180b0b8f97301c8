package dev.lanyard.agent;

import dev.lanyard.spiffe.SpiffeId;
import java.util.Optional;

/** Durable agents, keyed by SPIFFE ID. */
public interface AgentRepository {

    /** Stores the agent, replacing an earlier attestation of the same node. */
    void save(AgentRecord agent);

    Optional<AgentRecord> find(SpiffeId spiffeId);
}
