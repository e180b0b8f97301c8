package dev.lanyard.attest;

import java.util.Optional;

/**
 * One way a node agent proves its node (SPIRE's node attestors, step-ca's provisioners): one
 * implementation per kind of {@link NodeEvidence}. Sees no protobuf. Verification and redemption are
 * separate so a request refused for another reason leaves single-use evidence unused.
 */
public interface NodeAttestor {

    /** The kind of evidence it handles ({@link NodeEvidence#kind()}). */
    String kind();

    /** Bytes the agent must sign with the node key before {@link #verify}, or empty when the evidence is enough. */
    default Optional<byte[]> challenge(NodeEvidence evidence) throws AttestationException {
        return Optional.empty();
    }

    /**
     * The node the evidence proves. {@code challenge} and {@code response} are what {@link #challenge}
     * returned and what the agent answered (both empty when no challenge was sent).
     */
    AttestedNode verify(NodeEvidence evidence, byte[] challenge, byte[] response) throws AttestationException;

    /** Consumes single-use evidence, atomically; nothing for reusable evidence. */
    default void redeem(NodeEvidence evidence) throws AttestationException {
    }
}
