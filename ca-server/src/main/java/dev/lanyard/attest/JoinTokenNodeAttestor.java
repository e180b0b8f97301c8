package dev.lanyard.attest;

import dev.lanyard.attest.AttestationException.Reason;
import dev.lanyard.spiffe.SpiffeId;
import java.util.List;

/**
 * An agent's join token: created for {@code spiffe://TD/lanyard/agent/join_token/<token id>}
 * (CreateJoinToken with agent set), single use. A workload's token does not attest an agent.
 */
public final class JoinTokenNodeAttestor implements NodeAttestor {

    private static final String PREFIX = "/lanyard/agent/join_token/";

    private final JoinTokens tokens;

    public JoinTokenNodeAttestor(JoinTokens tokens) {
        this.tokens = tokens;
    }

    @Override
    public String kind() {
        return "join_token";
    }

    @Override
    public AttestedNode verify(NodeEvidence evidence, byte[] challenge, byte[] response) throws AttestationException {
        SpiffeId id = tokens.verifyToken(token(evidence));
        if (!id.path().startsWith(PREFIX)) {
            throw new AttestationException(Reason.DENIED, "this join token was created for a workload, not an agent;"
                    + " create one with `lanyard join-token create --agent`");
        }
        String tokenId = id.path().substring(PREFIX.length());
        return new AttestedNode(kind(), tokenId, List.of("join_token:id:" + tokenId));
    }

    @Override
    public void redeem(NodeEvidence evidence) throws AttestationException {
        tokens.redeemToken(token(evidence));
    }

    private static String token(NodeEvidence evidence) {
        return ((NodeEvidence.JoinToken) evidence).token();
    }
}
