package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.attest.AttestationException;
import dev.lanyard.audit.AuditText;
import dev.lanyard.attest.NodeAttestation;
import dev.lanyard.attest.NodeAttestor;
import dev.lanyard.attest.NodeEvidence;
import dev.lanyard.ca.IssuedSvid;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.registration.Registration;
import dev.lanyard.rpc.AuthenticatedPeer;
import dev.lanyard.rpc.Callers;
import dev.lanyard.rpc.ClientCertificateVerifier;
import dev.lanyard.rpc.Statuses;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.svid.AgentSvids;
import dev.lanyard.token.MintedToken;
import dev.lanyard.token.TokenIssuer;
import dev.lanyard.v1.AgentServiceGrpc;
import dev.lanyard.v1.AttestAgentParams;
import dev.lanyard.v1.AttestAgentRequest;
import dev.lanyard.v1.AttestAgentResponse;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.BatchNewX509SvidRequest;
import dev.lanyard.v1.BatchNewX509SvidResponse;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.ListEntriesRequest;
import dev.lanyard.v1.ListEntriesResponse;
import dev.lanyard.v1.NewJwtSvidRequest;
import dev.lanyard.v1.NewJwtSvidResponse;
import dev.lanyard.v1.RenewAgentRequest;
import dev.lanyard.v1.SvidParams;
import dev.lanyard.v1.SvidResult;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/** The agent's API: parse, call {@link AgentSvids} or {@link TokenIssuer}, answer. */
public final class AgentGrpcService extends AgentServiceGrpc.AgentServiceImplBase {

    private final NodeAttestation attestation;
    private final AgentSvids svids;
    private final TokenIssuer tokens;
    private final ClientCertificateVerifier certificates;
    private final TrustAuthorities authorities;
    private final ScheduledExecutorService timer;
    private final Duration attestationTimeout;

    /**
     * @param timer              ends attestations that outlive {@code attestationTimeout}: anyone may open
     *                           one, and a stream whose challenge is never answered would otherwise stay open
     */
    public AgentGrpcService(NodeAttestation attestation, AgentSvids svids, TokenIssuer tokens,
            ClientCertificateVerifier certificates, TrustAuthorities authorities, ScheduledExecutorService timer,
            Duration attestationTimeout) {
        this.attestation = attestation;
        this.svids = svids;
        this.tokens = tokens;
        this.certificates = certificates;
        this.authorities = authorities;
        this.timer = timer;
        this.attestationTimeout = attestationTimeout;
    }

    @Override
    public StreamObserver<AttestAgentRequest> attestAgent(StreamObserver<AttestAgentResponse> response) {
        return new StreamObserver<>() {
            private AttestAgentParams params;
            private NodeEvidence evidence;
            private NodeAttestor attestor;
            private byte[] challenge;
            private boolean done;
            // The observer's methods run on the call's executor and this on the timer: they share its lock.
            private final ScheduledFuture<?> deadline = timer.schedule(this::expire, attestationTimeout.toMillis(),
                    TimeUnit.MILLISECONDS);

            private synchronized void expire() {
                if (!done) {
                    done = true;
                    response.onError(Status.DEADLINE_EXCEEDED.withDescription("the attestation did not finish within "
                            + Durations.format(attestationTimeout) + " (agent.attestation-timeout): attest again")
                            .asException());
                }
            }

            @Override
            public synchronized void onNext(AttestAgentRequest request) {
                if (done) {
                    return;
                }
                try {
                    if (params == null) {
                        if (!request.hasParams()) {
                            throw Refusal.invalid("the first message must carry params (attestation and CSR)");
                        }
                        params = request.getParams();
                        evidence = evidence(params.getAttestation());
                        attestor = attestation.of(evidence);
                        Optional<byte[]> sent = svids.challenge(attestor, evidence);
                        if (sent.isPresent()) {
                            challenge = sent.get();
                            response.onNext(AttestAgentResponse.newBuilder()
                                    .setChallenge(ByteString.copyFrom(challenge)).build());
                            return;
                        }
                        finish(new byte[0], new byte[0]);
                    } else if (challenge != null && request.getStepCase() == AttestAgentRequest.StepCase.CHALLENGE_RESPONSE) {
                        finish(challenge, request.getChallengeResponse().toByteArray());
                    } else {
                        throw Refusal.invalid("expected the challenge response");
                    }
                } catch (Refusal e) {
                    done = true;
                    deadline.cancel(false);
                    response.onError(Statuses.exception(e));
                } catch (AttestationException e) {
                    done = true;
                    deadline.cancel(false);
                    response.onError(Statuses.exception(svids.unsupported(evidence.kind(), e)));
                }
            }

            private void finish(byte[] sentChallenge, byte[] answer) throws Refusal {
                IssuedSvid svid = svids.attest(attestor, evidence, sentChallenge, answer, params.getCsr().toByteArray());
                done = true;
                deadline.cancel(false);
                response.onNext(AttestAgentResponse.newBuilder()
                        .setSvid(CertificateGrpcService.toResponse(svid, authorities)).build());
                response.onCompleted();
            }

            @Override
            public synchronized void onError(Throwable t) {
                done = true;
                deadline.cancel(false);
            }

            @Override
            public synchronized void onCompleted() {
                deadline.cancel(false);
                if (!done) {
                    done = true;
                    response.onError(Status.INVALID_ARGUMENT
                            .withDescription("the stream ended before attestation finished").asException());
                }
            }
        };
    }

    @Override
    public void renewAgent(RenewAgentRequest request, StreamObserver<CertificateResponse> response) {
        answer(response, () -> {
            AuthenticatedPeer peer = Callers.require();
            return CertificateGrpcService.toResponse(svids.renew(peer.spiffeId(),
                    peer.serialHex(), request.getCsr().toByteArray()), authorities);
        });
    }

    @Override
    public void listEntries(ListEntriesRequest request, StreamObserver<ListEntriesResponse> response) {
        answer(response, () -> {
            AgentSvids.Entries entries = svids.entries(Callers.require().spiffeId());
            // The iss of the tokens minted here, so the agent's ValidateJWTSVID need not be told it.
            ListEntriesResponse.Builder b = ListEntriesResponse.newBuilder().addAllNodeSelectors(entries.nodeSelectors())
                    .setTokenIssuer(tokens.issuer());
            for (Registration r : entries.registrations()) {
                b.addEntries(AdminGrpcService.toProto(r));
            }
            return b.build();
        });
    }

    @Override
    public void batchNewX509Svid(BatchNewX509SvidRequest request, StreamObserver<BatchNewX509SvidResponse> response) {
        answer(response, () -> {
            AuthenticatedPeer agent = Callers.require();
            BatchNewX509SvidResponse.Builder b = BatchNewX509SvidResponse.newBuilder();
            for (SvidParams params : request.getParamsList()) {
                SvidResult.Builder result = SvidResult.newBuilder().setSpiffeId(params.getSpiffeId());
                try {
                    SpiffeId workload;
                    try {
                        workload = spiffeId(params.getSpiffeId());
                    } catch (Refusal e) {
                        svids.refused(agent.spiffeId(), "certificate.agent", params.getSpiffeId(), e);
                        throw e;
                    }
                    IssuedSvid svid = svids.issueForWorkload(agent.spiffeId(), agent.serialHex(), workload,
                            params.getCsr().toByteArray(), Protos.duration(params.hasTtl(), params.getTtl()));
                    result.setSvid(CertificateGrpcService.toResponse(svid, authorities));
                } catch (Refusal e) {
                    result.setErrorCode(Statuses.of(e).getCode().name()).setErrorMessage(e.getMessage());
                }
                b.addResults(result);
            }
            return b.build();
        });
    }

    @Override
    public void newJwtSvid(NewJwtSvidRequest request, StreamObserver<NewJwtSvidResponse> response) {
        answer(response, () -> {
            AuthenticatedPeer agent = Callers.require();
            SpiffeId workload;
            X509Certificate certificate;
            try {
                workload = spiffeId(request.getSpiffeId());
                svids.entryFor(agent.spiffeId(), agent.serialHex(), workload);
                certificate = workloadCertificate(request.getCertificate().toByteArray(), workload);
            } catch (Refusal e) {
                svids.refused(agent.spiffeId(), "token.issue", request.getSpiffeId(), e); // issuance records its own
                throw e;
            }
            MintedToken token = tokens.issueForAgent(agent.spiffeId(), agent.serialHex(), workload, certificate,
                    request.getAudience(), request.getScopesList(), Protos.duration(request.hasTtl(), request.getTtl()));
            return NewJwtSvidResponse.newBuilder().setToken(token.jwt())
                    .setExpiresAt(token.expiresAt().getEpochSecond()).build();
        });
    }

    /** The workload's current SVID as the agent holds it: issued by this CA, valid now, for that workload. */
    private X509Certificate workloadCertificate(byte[] der, SpiffeId workload) throws Refusal {
        try {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der));
            AuthenticatedPeer holder = certificates.verify(new X509Certificate[] {cert});
            if (!holder.spiffeId().equals(workload)) {
                throw Refusal.invalid("certificate is for " + holder.spiffeId() + ", not " + workload);
            }
            return cert;
        } catch (CertificateException e) {
            throw Refusal.invalid("certificate is not a DER X.509 certificate");
        } catch (ClientCertificateVerifier.RejectedException e) {
            throw Refusal.invalid("certificate: " + e.getMessage());
        }
    }

    private static SpiffeId spiffeId(String text) throws Refusal {
        try {
            return AuditText.parseSpiffeId("spiffe_id", text);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid(e.getMessage()); // never the text itself: it may be a secret in the wrong field
        }
    }

    /** The evidence of the attestation message, as the attestors see it (no protobuf). */
    private static NodeEvidence evidence(Attestation attestation) throws Refusal {
        return switch (attestation.getKindCase()) {
            case JOIN_TOKEN -> new NodeEvidence.JoinToken(attestation.getJoinToken().getToken());
            case X509POP -> {
                List<X509Certificate> chain = new ArrayList<>();
                try {
                    CertificateFactory factory = CertificateFactory.getInstance("X.509");
                    for (ByteString der : attestation.getX509Pop().getChainList()) {
                        chain.add((X509Certificate) factory.generateCertificate(der.newInput()));
                    }
                } catch (CertificateException e) {
                    throw Refusal.invalid("x509pop.chain holds something that is not a DER X.509 certificate");
                }
                yield new NodeEvidence.X509Pop(chain);
            }
            case K8S_PSAT -> new NodeEvidence.Psat(attestation.getK8SPsat().getCluster(),
                    attestation.getK8SPsat().getToken());
            case KIND_NOT_SET -> throw Refusal.invalid("attestation is missing: send join_token, x509pop or k8s_psat");
        };
    }

    private interface Body<T> {
        T run() throws Refusal, StatusException;
    }

    private static <T> void answer(StreamObserver<T> response, Body<T> body) {
        try {
            response.onNext(body.run());
            response.onCompleted();
        } catch (Refusal e) {
            response.onError(Statuses.exception(e));
        } catch (StatusException e) {
            response.onError(e);
        }
    }
}
