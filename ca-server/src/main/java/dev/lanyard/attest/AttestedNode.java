package dev.lanyard.attest;

import java.util.List;

/**
 * A node the evidence proved: the {@code <id>} of its agent ID ({@code spiffe://TD/lanyard/agent/<kind>/<id>})
 * and the node selectors registrations may name as parent.
 */
public record AttestedNode(String kind, String id, List<String> selectors) {
    public AttestedNode {
        selectors = List.copyOf(selectors);
    }
}
