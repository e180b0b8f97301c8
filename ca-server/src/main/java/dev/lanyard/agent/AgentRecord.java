package dev.lanyard.agent;

import dev.lanyard.spiffe.SpiffeId;
import java.time.Instant;
import java.util.List;

/** An attested node agent: its ID, the attestor that proved it and the node selectors it proved. */
public record AgentRecord(SpiffeId spiffeId, String attestor, List<String> nodeSelectors, Instant attestedAt) {
    public AgentRecord {
        nodeSelectors = List.copyOf(nodeSelectors);
    }
}
