package dev.lanyard.attest;

import dev.lanyard.attest.AttestationException.Reason;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Dispatches node evidence to the one attestor of its kind. */
public final class NodeAttestation {

    private final Map<String, NodeAttestor> byKind = new HashMap<>();

    public NodeAttestation(List<NodeAttestor> attestors) {
        for (NodeAttestor a : attestors) {
            if (byKind.put(a.kind(), a) != null) {
                throw new IllegalArgumentException("two node attestors for kind " + a.kind());
            }
        }
    }

    /** The attestor of the evidence's kind; UNSUPPORTED_KIND when this server has none configured. */
    public NodeAttestor of(NodeEvidence evidence) throws AttestationException {
        NodeAttestor attestor = byKind.get(evidence.kind());
        if (attestor == null) {
            throw new AttestationException(Reason.UNSUPPORTED_KIND,
                    "node attestation kind " + evidence.kind() + " is not enabled on this server");
        }
        return attestor;
    }
}
