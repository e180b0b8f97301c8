package dev.lanyard.svid;

import dev.lanyard.agent.AgentRecord;
import dev.lanyard.agent.AgentRepository;
import dev.lanyard.attest.AttestationException;
import dev.lanyard.attest.AttestedNode;
import dev.lanyard.attest.NodeAttestor;
import dev.lanyard.attest.NodeEvidence;
import dev.lanyard.audit.AuditText;
import dev.lanyard.ca.IssuedSvid;
import dev.lanyard.ca.ValidatedCsr;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.registration.Registration;
import dev.lanyard.registration.RegistrationRepository;
import dev.lanyard.registration.Selectors;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.token.RateLimiter;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * SVIDs for node agents and for the workloads they serve, through {@link SvidIssuer}'s issuance path
 * (CSR checks, revocation, the certificate recorded with its audit record, ordered with revocations).
 * An agent gets {@code spiffe://TD/lanyard/agent/<attestor>/<id>}; a workload's SVID goes to an agent
 * only for an entry parented to that agent (its ID or one of its node selectors), audited with the
 * agent as actor and the workload as target, and rate limited per workload as a direct caller is.
 */
public final class AgentSvids {

    private final SvidIssuer issuer;
    private final AgentRepository agents;
    private final RegistrationRepository registrations;
    private final RateLimiter perIdentity;
    private final String trustDomain;
    private final Duration agentTtl;
    private final Clock clock;

    public AgentSvids(SvidIssuer issuer, AgentRepository agents, RegistrationRepository registrations,
            RateLimiter perIdentity, String trustDomain, Duration agentTtl, Clock clock) {
        this.issuer = issuer;
        this.agents = agents;
        this.registrations = registrations;
        this.perIdentity = perIdentity;
        this.trustDomain = trustDomain;
        this.agentTtl = agentTtl;
        this.clock = clock;
    }

    /** Audits evidence no attestor takes (a kind this server does not enable) and says why. */
    public Refusal unsupported(String kind, AttestationException e) {
        Refusal refused = SvidIssuer.refusalOf(e);
        issuer.refuse("anonymous", "agent.attest", kind, refused);
        return refused;
    }

    /** Checks the evidence before a challenge is sent (x509pop): nothing is written. */
    public Optional<byte[]> challenge(NodeAttestor attestor, NodeEvidence evidence) throws Refusal {
        try {
            return attestor.challenge(evidence);
        } catch (AttestationException e) {
            Refusal refused = SvidIssuer.refusalOf(e);
            issuer.refuse("anonymous", "agent.attest", evidence.kind(), refused);
            throw refused;
        }
    }

    /** The last step of node attestation: the agent SVID, after the evidence verified and was redeemed. */
    public IssuedSvid attest(NodeAttestor attestor, NodeEvidence evidence, byte[] challenge, byte[] response,
            byte[] csrDer) throws Refusal {
        String actor = "anonymous";
        try {
            ValidatedCsr csr = issuer.validate(csrDer);
            AttestedNode node = attestor.verify(evidence, challenge, response);
            SpiffeId agent = SpiffeId.of(trustDomain, Selectors.AGENT_PREFIX + node.kind() + "/" + node.id());
            actor = agent.toString();
            issuer.refuseIfRevoked(agent, Optional.empty());
            AgentRecord record = new AgentRecord(agent, node.kind(), node.selectors(), clock.instant());
            // The evidence is redeemed and the agent saved in the transaction that records its SVID:
            // a failure to record it spends no join token and leaves no agent without a certificate.
            return issuer.issueAndRecord(csr, agentRegistration(agent), agentTtl, actor, "agent.attest",
                    List.of(), () -> {
                        SvidIssuer.redeem(() -> attestor.redeem(evidence));
                        agents.save(record);
                    });
        } catch (AttestationException e) {
            Refusal refused = SvidIssuer.refusalOf(e);
            issuer.refuse(actor, "agent.attest", evidence.kind(), refused);
            throw refused;
        } catch (Refusal e) {
            issuer.refuse(actor, "agent.attest", evidence.kind(), e);
            throw e;
        } catch (IllegalArgumentException e) {
            Refusal refused = Refusal.invalid("the attested node does not make a valid agent ID: " + e.getMessage());
            issuer.refuse(actor, "agent.attest", evidence.kind(), refused);
            throw refused;
        }
    }

    /** The agent renews its own SVID over mTLS. */
    public IssuedSvid renew(SpiffeId agent, String serialHex, byte[] csrDer) throws Refusal {
        try {
            issuer.refuseIfRevoked(agent, Optional.of(serialHex));
            recordOf(agent);
            ValidatedCsr csr = issuer.validate(csrDer);
            return issuer.issueAndRecord(csr, agentRegistration(agent), agentTtl, agent.toString(), "agent.renew",
                    List.of(serialHex));
        } catch (Refusal e) {
            issuer.refuse(agent.toString(), "agent.renew", agent.toString(), e);
            throw e;
        }
    }

    /** The entries the agent may serve, and its node selectors. */
    public Entries entries(SpiffeId agent) throws Refusal {
        AgentRecord record = recordOf(agent);
        return new Entries(registrations.withParent(parents(record)).stream()
                .filter(r -> issuer.isWorkloadId(r.spiffeId())).toList(), record.nodeSelectors());
    }

    /** What an agent serves. */
    public record Entries(List<Registration> registrations, List<String> nodeSelectors) {
    }

    /**
     * An X.509-SVID for {@code workload}, whose entry must be parented to {@code agent}; refused, in the
     * transaction that records it, if the agent's certificate ({@code agentSerialHex}) or identity was
     * revoked meanwhile (on this replica or another whose revocations this one has not caught up with).
     */
    public IssuedSvid issueForWorkload(SpiffeId agent, String agentSerialHex, SpiffeId workload, byte[] csrDer,
            Optional<Duration> ttl) throws Refusal {
        try {
            Registration entry = entryFor(agent, agentSerialHex, workload);
            ValidatedCsr csr = issuer.validate(csrDer);
            Duration lifetime = issuer.lifetime(ttl, entry);
            SvidIssuer.checkSans(csr, entry);
            return issuer.issueAndRecord(csr, entry, lifetime, agent.toString(), "certificate.agent",
                    List.of(agentSerialHex));
        } catch (Refusal e) {
            issuer.refuse(agent.toString(), "certificate.agent", workload.toString(), e);
            throw e;
        }
    }

    /**
     * Records the refusal of an agent's request for a workload named by {@code spiffeIdText} that was
     * refused before it reached issuance (the ID did not parse, the entry or the workload's certificate
     * did not pass): such requests leave a record as those refused later do.
     */
    public void refused(SpiffeId agent, String action, String spiffeIdText, Refusal e) {
        issuer.refuse(agent.toString(), action, AuditText.spiffeId(spiffeIdText), e);
    }

    /**
     * The workload's entry if {@code agent}, calling with the certificate {@code agentSerialHex}, may act
     * for it now: the agent, its certificate and the workload are not revoked, the entry is parented to
     * the agent, and the workload is within its call rate.
     */
    public Registration entryFor(SpiffeId agent, String agentSerialHex, SpiffeId workload) throws Refusal {
        issuer.refuseIfRevoked(agent, Optional.of(agentSerialHex));
        issuer.refuseIfRevoked(workload, Optional.empty());
        issuer.refuseIfNotAWorkloadId(workload);
        Registration entry = registrations.find(workload).orElseThrow(() -> Refusal.denied(
                workload + " has no registration; an admin must register it first"));
        if (entry.parentId().isEmpty() || !parents(recordOf(agent)).contains(entry.parentId().get())) {
            throw Refusal.denied(workload + " is not parented to " + agent + " (its parent is "
                    + entry.parentId().orElse("none") + ")");
        }
        if (!perIdentity.tryAcquire(workload.toString())) {
            throw new Refusal(Refusal.Code.RESOURCE_EXHAUSTED,
                    workload + " is over its call rate limit; retry shortly");
        }
        return entry;
    }

    private AgentRecord recordOf(SpiffeId agent) throws Refusal {
        return agents.find(agent).orElseThrow(() -> Refusal.denied(
                agent + " is not an attested agent of this server; attest the node again"));
    }

    private static List<String> parents(AgentRecord record) {
        List<String> parents = new ArrayList<>(record.nodeSelectors());
        parents.add(record.spiffeId().toString());
        return parents;
    }

    private Registration agentRegistration(SpiffeId agent) {
        return new Registration(agent, List.of(), agentTtl, clock.instant());
    }
}
