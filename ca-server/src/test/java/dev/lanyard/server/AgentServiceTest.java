package dev.lanyard.server;

import static dev.lanyard.server.CertificateServiceTest.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.HttpsJwks;
import dev.lanyard.testing.NodePki;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.token.CertificateThumbprint;
import dev.lanyard.v1.AgentServiceGrpc;
import dev.lanyard.v1.AttestAgentParams;
import dev.lanyard.v1.AttestAgentRequest;
import dev.lanyard.v1.AttestAgentResponse;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.BatchNewX509SvidRequest;
import dev.lanyard.v1.BatchNewX509SvidResponse;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.ListEntriesRequest;
import dev.lanyard.v1.NewJwtSvidRequest;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.RenewAgentRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.SvidParams;
import dev.lanyard.v1.X509PopAttestation;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node agent's API on a real server: attestation, entries, batched SVIDs and JWT-SVIDs for workloads. */
class AgentServiceTest {

    static final String TD = "spiffe://lanyard.local";
    static final String API = TD + "/ns/payments/sa/api";
    static final String OTHER = TD + "/ns/other/sa/job";
    static final String BATCH = TD + "/ns/payments/sa/batch";

    @TempDir
    Path dir;
    RunningServer lanyard;
    NodePki pki;

    @BeforeEach
    void start() throws Exception {
        pki = new NodePki("node-ca", java.time.Instant.now());
        Path roots = pki.writeRoot(dir.resolve("node-ca.pem"));
        lanyard = RunningServer.start(dir.resolve("data"), Map.of("x509pop.roots", roots.toString()));
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void anAgentAttestsWithAJoinTokenAndServesOnlyItsOwnEntries() throws Exception {
        Credential agent = attestWithJoinToken();
        String agentId = CertificateServiceTest.spiffeIdOf(agent.leaf());
        assertThat(agentId).startsWith(TD + "/lanyard/agent/join_token/");

        register(API, agentId, "unix:uid:1000");
        register(OTHER, TD + "/lanyard/agent/join_token/someone-else", "unix:uid:1000");
        var entries = agents(agent).listEntries(ListEntriesRequest.getDefaultInstance());
        assertThat(entries.getEntriesList()).extracting(r -> r.getSpiffeId()).containsExactly(API);
        assertThat(entries.getEntries(0).getSelectorsList()).containsExactly("unix:uid:1000");

        KeyPair key = Csrs.ecP256();
        BatchNewX509SvidResponse batch = agents(agent).batchNewX509Svid(BatchNewX509SvidRequest.newBuilder()
                .addParams(SvidParams.newBuilder().setSpiffeId(API).setCsr(ByteString.copyFrom(Csrs.csr(key))))
                .addParams(SvidParams.newBuilder().setSpiffeId(OTHER).setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))))
                .build());
        assertThat(batch.getResults(0).getErrorCode()).isEmpty();
        X509Certificate issued = RunningServer.x509(batch.getResults(0).getSvid().getCertificate());
        assertThat(CertificateServiceTest.spiffeIdOf(issued)).isEqualTo(API);
        assertThat(issued.getPublicKey()).isEqualTo(key.getPublic());
        assertThat(batch.getResults(1).getErrorCode()).isEqualTo("PERMISSION_DENIED");
        assertThat(batch.getResults(1).getErrorMessage()).contains("is not parented to " + agentId);

        List<AuditEvent> audit = lanyard.server().audit().recent(20);
        assertThat(audit).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("certificate.agent");
            assertThat(e.actor()).isEqualTo(agentId);
            assertThat(e.target()).startsWith(API + " serial ");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
        });
        assertThat(audit).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("certificate.agent");
            assertThat(e.target()).isEqualTo(OTHER);
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
        });
    }

    @Test
    void aStoreFailureRecordingTheAgentsSvidLeavesTheJoinTokenUnusedAndNoAgent() throws Exception {
        String token = agentJoinToken();
        long agentsBefore = lanyard.rows("agents");
        lanyard.refuseCertificates(true);
        assertThatThrownBy(() -> attest(RunningServer.joinTokenAttestation(token), Csrs.ecP256(), null))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isNotEqualTo(Status.Code.UNAUTHENTICATED));
        assertThat(lanyard.rows("agents")).as("no agent without its certificate").isEqualTo(agentsBefore);
        lanyard.refuseCertificates(false);
        // Nothing was stored half-way: the same token attests once the store works again.
        KeyPair keys = Csrs.ecP256();
        Credential agent = RunningServer.credential(keys, attest(RunningServer.joinTokenAttestation(token), keys, null));
        assertThat(CertificateServiceTest.spiffeIdOf(agent.leaf())).startsWith(TD + "/lanyard/agent/join_token/");
        assertThat(lanyard.rows("agents")).isEqualTo(agentsBefore + 1);
        assertRefused(() -> attest(RunningServer.joinTokenAttestation(token), Csrs.ecP256(), null),
                Status.Code.UNAUTHENTICATED, "already used");
    }

    @Test
    void aNodeSelectorParentIsServedByEveryAgentThatProvedIt() throws Exception {
        Credential agent = attestWithX509Pop("node-7", Csrs.ecP256());
        String root = "x509pop:ca:fingerprint:" + java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-1").digest(pki.root().getEncoded()));
        register(API, "x509pop:subject:cn:node-7", "unix:uid:1000");
        register(OTHER, "x509pop:subject:cn:node-8", "unix:uid:1000");
        register(BATCH, root + ":subject:cn:node-7", "unix:uid:1000");
        var entries = agents(agent).listEntries(ListEntriesRequest.getDefaultInstance());
        assertThat(entries.getEntriesList()).extracting(r -> r.getSpiffeId()).containsExactlyInAnyOrder(API, BATCH);
        assertThat(entries.getNodeSelectorsList()).contains("x509pop:subject:cn:node-7", root + ":subject:cn:node-7");
    }

    @Test
    void x509popOverTheStreamGivesTheAgentAnIdFromItsCertificate() throws Exception {
        Credential agent = attestWithX509Pop("node-7", Csrs.ecP256());
        assertThat(CertificateServiceTest.spiffeIdOf(agent.leaf())).matches(TD + "/lanyard/agent/x509pop/[0-9a-f]{40}");
        // The agent renews its own SVID over mTLS.
        KeyPair next = Csrs.ecP256();
        CertificateResponse renewed = agents(agent).renewAgent(RenewAgentRequest.newBuilder()
                .setCsr(ByteString.copyFrom(Csrs.csr(next))).build());
        assertThat(renewed.getSpiffeId()).isEqualTo(CertificateServiceTest.spiffeIdOf(agent.leaf()));
    }

    @Test
    void x509popWithTheWrongKeyIsRefusedAndAudited() {
        KeyPair nodeKeys = Csrs.ecP256();
        X509Certificate node = pki.node("node-7", nodeKeys, java.time.Instant.now().minusSeconds(60),
                java.time.Instant.now().plus(Duration.ofDays(1)));
        assertRefused(() -> attestX509Pop(node, Csrs.ecP256()), Status.Code.UNAUTHENTICATED,
                "challenge signature does not verify");
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("agent.attest");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
        });
    }

    @Test
    void x509popWithACertificateNotForClientSignaturesIsRefusedAndAudited() {
        KeyPair nodeKeys = Csrs.ecP256();
        X509Certificate serverOnly = pki.node("node-7", nodeKeys, java.time.Instant.now().minusSeconds(60),
                java.time.Instant.now().plus(Duration.ofDays(1)), org.bouncycastle.asn1.x509.KeyUsage.digitalSignature,
                org.bouncycastle.asn1.x509.KeyPurposeId.id_kp_serverAuth);
        assertRefused(() -> attestX509Pop(serverOnly, nodeKeys), Status.Code.PERMISSION_DENIED,
                "the node certificate's extended key usage does not include clientAuth");
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("agent.attest");
            assertThat(e.target()).isEqualTo("x509pop");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
            assertThat(e.reason()).contains("does not include clientAuth");
        });
    }

    /**
     * k8s_psat on a real server whose cluster JWKS is served over TLS by a cluster CA named in
     * psat.jwks-ca-file: a projected token attests its node by uid; a token bound to no pod, or living
     * past psat.max-token-lifetime, is refused and audited, the token nowhere in the record.
     */
    @Test
    void aKubernetesPodAttestsItsNodeAgainstAnHttpsJwks() throws Exception {
        RSAKey clusterKey = new RSAKeyGenerator(2048).keyID("cluster-1").generate();
        try (HttpsJwks jwks = HttpsJwks.serve(new JWKSet(clusterKey.toPublicJWK()))) {
            lanyard.close();
            lanyard = RunningServer.start(dir.resolve("data"), Map.of("psat.cluster", "prod",
                    "psat.issuer", K8S_ISSUER, "psat.jwks-url", jwks.url().toString(),
                    "psat.jwks-ca-file", jwks.writeCa(dir.resolve("cluster-ca.pem")).toString(),
                    "psat.allowed-service-accounts", "lanyard:lanyard-agent"));
            java.time.Instant now = lanyard.clock().instant();
            Map<String, Object> pod = Map.of("name", "lanyard-agent-x7", "uid", "pod-uid-1");
            Map<String, Object> node = Map.of("name", "node-7", "uid", "node-uid-1");

            CertificateResponse svid = attest(psat(clusterKey, now.minusSeconds(10), now.plusSeconds(3590), pod, node),
                    Csrs.ecP256(), null);
            assertThat(svid.getSpiffeId()).isEqualTo(TD + "/lanyard/agent/k8s_psat/prod/node-uid-1");

            Attestation nodeOnly = psat(clusterKey, now.minusSeconds(10), now.plusSeconds(3590), null, node);
            assertRefused(() -> attest(nodeOnly, Csrs.ecP256(), null), Status.Code.PERMISSION_DENIED,
                    "not bound to a pod");
            Attestation yearLong = psat(clusterKey, now.minus(Duration.ofDays(300)), now.plus(Duration.ofDays(65)),
                    pod, node);
            assertRefused(() -> attest(yearLong, Csrs.ecP256(), null), Status.Code.PERMISSION_DENIED,
                    "more than psat.max-token-lifetime (7200s)");
            String signature = yearLong.getK8SPsat().getToken().substring(yearLong.getK8SPsat().getToken()
                    .lastIndexOf('.') + 1);
            List<AuditEvent> audit = lanyard.server().audit().recent(10);
            assertThat(audit).filteredOn(e -> e.action().equals("agent.attest")
                    && e.outcome() == AuditEvent.Outcome.REFUSED).hasSize(2)
                    .allSatisfy(e -> assertThat(e.reason()).doesNotContain(signature));
        }
    }

    /**
     * A cluster JWKS the server cannot fetch (nothing listens there, or its TLS is not trusted) is the
     * server's failure, not the agent's: UNAVAILABLE, which the agent may retry, in words that name neither
     * the URL nor why the fetch failed (the server log does), and audited as every refusal is.
     */
    @Test
    void aClusterJwksTheServerCannotFetchIsUnavailableNotTheAgentsFault() throws Exception {
        RSAKey clusterKey = new RSAKeyGenerator(2048).keyID("cluster-1").generate();
        int closed;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        try (HttpsJwks untrusted = HttpsJwks.serve(new JWKSet(clusterKey.toPublicJWK()))) {
            for (String url : List.of("https://127.0.0.1:" + closed + "/openid/v1/jwks", untrusted.url().toString())) {
                lanyard.close();
                lanyard = RunningServer.start(dir.resolve("data-" + url.hashCode()), Map.of("psat.cluster", "prod",
                        "psat.issuer", K8S_ISSUER, "psat.jwks-url", url,
                        "psat.allowed-service-accounts", "lanyard:lanyard-agent"));
                java.time.Instant now = lanyard.clock().instant();
                Attestation token = psat(clusterKey, now.minusSeconds(10), now.plusSeconds(3590),
                        Map.of("name", "lanyard-agent-x7", "uid", "pod-uid-1"), Map.of("name", "node-7", "uid", "n-1"));
                String expected = "the cluster's JWKS cannot be fetched (psat.jwks-url), a failure on the server's"
                        + " side; try again later (the server log says why)";
                assertThatThrownBy(() -> attest(token, Csrs.ecP256(), null))
                        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
                            assertThat(e.getStatus().getDescription()).isEqualTo(expected);
                        });
                assertThat(lanyard.server().audit().recent(10)).anySatisfy(e -> {
                    assertThat(e.action()).isEqualTo("agent.attest");
                    assertThat(e.target()).isEqualTo("k8s_psat");
                    assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
                    assertThat(e.reason()).isEqualTo("UNAVAILABLE: " + expected);
                });
            }
        }
    }

    static final String K8S_ISSUER = "https://kubernetes.default.svc.cluster.local";

    /** A projected service-account token for lanyard:lanyard-agent, bound to {@code pod} (if not null). */
    static Attestation psat(RSAKey key, java.time.Instant issued, java.time.Instant expires, Map<String, Object> pod,
            Map<String, Object> node) throws Exception {
        Map<String, Object> k8s = new java.util.HashMap<>(Map.of("namespace", "lanyard",
                "serviceaccount", Map.of("name", "lanyard-agent", "uid", "sa-uid"), "node", node));
        if (pod != null) {
            k8s.put("pod", pod);
        }
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(),
                new JWTClaimsSet.Builder().issuer(K8S_ISSUER).audience("lanyard")
                        .subject("system:serviceaccount:lanyard:lanyard-agent").issueTime(java.util.Date.from(issued))
                        .expirationTime(java.util.Date.from(expires)).claim("kubernetes.io", k8s).build());
        jwt.sign(new RSASSASigner(key));
        return Attestation.newBuilder().setK8SPsat(dev.lanyard.v1.PsatAttestation.newBuilder().setCluster("prod")
                .setToken(jwt.serialize())).build();
    }

    @Test
    void aKindThisServerDoesNotEnableIsRefusedAndAudited() {
        assertRefused(() -> attest(Attestation.newBuilder().setK8SPsat(dev.lanyard.v1.PsatAttestation.newBuilder()
                        .setCluster("prod").setToken("x.y.z")).build(), Csrs.ecP256(), null),
                Status.Code.INVALID_ARGUMENT, "k8s_psat is not enabled on this server");
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("agent.attest");
            assertThat(e.target()).isEqualTo("k8s_psat");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
            assertThat(e.reason()).doesNotContain("x.y.z");
        });
    }

    @Test
    void aSecretPastedIntoAPsatAttestationIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() throws Exception {
        Path jwks = dir.resolve("cluster-jwks.json");
        java.nio.file.Files.writeString(jwks, new com.nimbusds.jose.jwk.JWKSet(
                new com.nimbusds.jose.jwk.gen.ECKeyGenerator(com.nimbusds.jose.jwk.Curve.P_256).keyID("cluster-1")
                        .generate().toPublicJWK()).toString());
        lanyard.close();
        lanyard = RunningServer.start(dir.resolve("psat"), Map.of("psat.cluster", "prod",
                "psat.issuer", "https://k8s.example", "psat.jwks-file", jwks.toString(),
                "psat.allowed-service-accounts", "lanyard:agent"));
        for (String secret : PastedSecrets.of(lanyard)) {
            boolean jwt = !secret.startsWith("lyjt_");
            // a JWT is longer than a cluster name may be (the chain refuses it), and as the token it parses
            var cluster = dev.lanyard.v1.PsatAttestation.newBuilder().setCluster(secret).setToken("x.y.z").build();
            PastedSecrets.refusedWithoutRepeating(() -> attest(Attestation.newBuilder().setK8SPsat(cluster).build(),
                    Csrs.ecP256(), null), jwt ? Status.Code.INVALID_ARGUMENT : Status.Code.UNAUTHENTICATED, secret);
            var token = dev.lanyard.v1.PsatAttestation.newBuilder().setCluster("prod").setToken(secret).build();
            PastedSecrets.refusedWithoutRepeating(() -> attest(Attestation.newBuilder().setK8SPsat(token).build(),
                    Csrs.ecP256(), null), jwt ? Status.Code.UNAUTHENTICATED : Status.Code.INVALID_ARGUMENT, secret);
            PastedSecrets.assertRefusedRecord(lanyard, "agent.attest", "k8s_psat");
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
    }

    @Test
    void aWorkloadJoinTokenDoesNotAttestAnAgent() {
        lanyard.register(API);
        String token = lanyard.joinToken(API);
        assertRefused(() -> attest(RunningServer.joinTokenAttestation(token), Csrs.ecP256(), null),
                Status.Code.PERMISSION_DENIED, "created for a workload, not an agent");
    }

    @Test
    void anAgentJoinTokenIsSingleUse() {
        String token = agentJoinToken();
        attest(RunningServer.joinTokenAttestation(token), Csrs.ecP256(), null);
        assertRefused(() -> attest(RunningServer.joinTokenAttestation(token), Csrs.ecP256(), null),
                Status.Code.UNAUTHENTICATED, "already used");
    }

    @Test
    void jwtSvidsAreBoundToTheWorkloadsCertificateAndCarryItsGrantedScopes() throws Exception {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/payments/*" audience: "ledger" scopes: "ledger.read" }
                """);
        Credential agent = attestWithJoinToken();
        String agentId = CertificateServiceTest.spiffeIdOf(agent.leaf());
        register(API, agentId, "unix:uid:1000");
        X509Certificate workloadCert = RunningServer.x509(agents(agent).batchNewX509Svid(BatchNewX509SvidRequest.newBuilder()
                .addParams(SvidParams.newBuilder().setSpiffeId(API).setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))))
                .build()).getResults(0).getSvid().getCertificate());

        var token = agents(agent).newJwtSvid(NewJwtSvidRequest.newBuilder().setSpiffeId(API).setAudience("ledger")
                .setCertificate(ByteString.copyFrom(workloadCert.getEncoded())).build());
        var claims = SignedJWT.parse(token.getToken()).getJWTClaimsSet();
        assertThat(claims.getSubject()).isEqualTo(API);
        assertThat(claims.getStringClaim("scope")).isEqualTo("ledger.read");
        assertThat(claims.getJSONObjectClaim("cnf")).isEqualTo(Map.of("x5t#S256",
                CertificateThumbprint.x5tS256(workloadCert.getEncoded())));
        // The agent learns the iss its ValidateJWTSVID expects from ListEntries: the one the tokens carry.
        assertThat(claims.getIssuer()).isEqualTo(lanyard.server().config().issuer());
        assertThat(agents(agent).listEntries(ListEntriesRequest.getDefaultInstance()).getTokenIssuer())
                .isEqualTo(claims.getIssuer());

        assertRefused(() -> agents(agent).newJwtSvid(NewJwtSvidRequest.newBuilder().setSpiffeId(API)
                .setAudience("payments").setCertificate(ByteString.copyFrom(encoded(workloadCert))).build()),
                Status.Code.PERMISSION_DENIED, "granted no scope on audience payments");
        assertRefused(() -> agents(agent).newJwtSvid(NewJwtSvidRequest.newBuilder().setSpiffeId(API)
                .setAudience("ledger").setCertificate(ByteString.copyFrom(encoded(agent.leaf()))).build()),
                Status.Code.INVALID_ARGUMENT, "not " + API);
        // refused before issuance (the workload's own certificate is not for it), and recorded
        PastedSecrets.assertRefusedRecord(lanyard, "token.issue", API);
        // a token pasted as the spiffe_id is refused without being repeated
        String jwt = token.getToken();
        assertThatThrownBy(() -> agents(agent).newJwtSvid(NewJwtSvidRequest.newBuilder().setSpiffeId(jwt)
                .setAudience("ledger").setCertificate(ByteString.copyFrom(workloadCert.getEncoded())).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                    assertThat(e.getStatus().getDescription())
                            .startsWith("spiffe_id (" + jwt.length() + " characters) is not a SPIFFE ID")
                            .doesNotContain(jwt.substring(jwt.length() - 16));
                });
        PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "invalid spiffe_id (" + jwt.length() + " characters)");
        var badBatch = agents(agent).batchNewX509Svid(BatchNewX509SvidRequest.newBuilder().addParams(SvidParams
                .newBuilder().setSpiffeId(jwt).setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256())))).build());
        assertThat(badBatch.getResults(0).getErrorCode()).isEqualTo("INVALID_ARGUMENT");
        PastedSecrets.assertRefusedRecord(lanyard, "certificate.agent", "invalid spiffe_id (" + jwt.length()
                + " characters)");
        PastedSecrets.assertNotInTheAuditTrail(lanyard, jwt);
        // ... and so is one pasted as the audience or a scope
        for (String secret : PastedSecrets.of(lanyard)) {
            for (NewJwtSvidRequest.Builder request : List.of(NewJwtSvidRequest.newBuilder().setAudience(secret),
                    NewJwtSvidRequest.newBuilder().setAudience("ledger").addScopes(secret))) {
                PastedSecrets.refusedWithoutRepeating(() -> agents(agent).newJwtSvid(request.setSpiffeId(API)
                        .setCertificate(ByteString.copyFrom(encoded(workloadCert))).build()),
                        Status.Code.INVALID_ARGUMENT, secret);
            }
            // inside a SPIFFE ID's path it parses, and is refused and named by its length all the same
            String inPath = "spiffe://lanyard.local/ns/shop/sa/" + secret;
            assertThat(PastedSecrets.refusedWithoutRepeating(() -> agents(agent).newJwtSvid(NewJwtSvidRequest
                    .newBuilder().setSpiffeId(inPath).setAudience("ledger")
                    .setCertificate(ByteString.copyFrom(encoded(workloadCert))).build()),
                    Status.Code.INVALID_ARGUMENT, secret))
                    .startsWith("spiffe_id (" + inPath.length() + " characters) holds a JWT or a join token");
            PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "invalid spiffe_id (" + inPath.length()
                    + " characters)");
            var inPathBatch = agents(agent).batchNewX509Svid(BatchNewX509SvidRequest.newBuilder().addParams(SvidParams
                    .newBuilder().setSpiffeId(inPath).setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256())))).build());
            assertThat(inPathBatch.getResults(0).getErrorCode()).isEqualTo("INVALID_ARGUMENT");
            PastedSecrets.assertNotRepeated(inPathBatch.getResults(0).getErrorMessage(), secret);
            PastedSecrets.assertRefusedRecord(lanyard, "certificate.agent", "invalid spiffe_id (" + inPath.length()
                    + " characters)");
            if (secret.length() <= 128) {
                PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "invalid audience (" + secret.length()
                        + " characters) for " + API);
                PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "audience ledger for " + API);
            }
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
    }

    @Test
    void aRevokedAgentIsCutOffAndAWorkloadCannotCallTheAgentApi() {
        Credential agent = attestWithJoinToken();
        String agentId = CertificateServiceTest.spiffeIdOf(agent.leaf());
        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(agentId))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
        assertRefused(() -> agents(agent).listEntries(ListEntriesRequest.getDefaultInstance()),
                Status.Code.PERMISSION_DENIED, "revoked");

        lanyard.register(API);
        Credential workload = lanyard.bootstrap(API);
        assertRefused(() -> agents(workload).listEntries(ListEntriesRequest.getDefaultInstance()),
                Status.Code.PERMISSION_DENIED, "is not a node agent");
    }

    /**
     * A replica that has not yet caught up with an agent's revocation (committed by another replica)
     * lets the agent through the request chain; the transaction that would record a workload's SVID or
     * JWT-SVID for it sees the revocation (of the agent's certificate, by serial) and refuses it.
     */
    @Test
    void aReplicaBehindAnAgentsRevocationRecordsNothingMoreForTheAgent() throws Exception {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/payments/*" audience: "ledger" scopes: "ledger.read" }
                """);
        Credential agent = attestWithJoinToken();
        String agentId = CertificateServiceTest.spiffeIdOf(agent.leaf());
        String agentSerial = agent.leaf().getSerialNumber().toString(16);
        register(API, agentId, "unix:uid:1000");
        X509Certificate workloadCert = RunningServer.x509(agents(agent).batchNewX509Svid(BatchNewX509SvidRequest
                .newBuilder().addParams(SvidParams.newBuilder().setSpiffeId(API)
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256())))).build()).getResults(0).getSvid()
                .getCertificate());

        try (LanyardServer second = LanyardServer.start(ServerConfig.dev(dir.resolve("data"), 0, 0), lanyard.clock())) {
            io.grpc.ManagedChannel channel = dev.lanyard.testing.TlsChannels.open(second.grpcPort(),
                    second.trustBundle(), agent);
            try {
                var onSecond = AgentServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
                SvidParams params = SvidParams.newBuilder().setSpiffeId(API)
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build();
                NewJwtSvidRequest jwt = NewJwtSvidRequest.newBuilder().setSpiffeId(API).setAudience("ledger")
                        .setCertificate(ByteString.copyFrom(workloadCert.getEncoded())).build();
                assertThat(onSecond.batchNewX509Svid(BatchNewX509SvidRequest.newBuilder().addParams(params).build())
                        .getResults(0).getErrorCode()).isEmpty();
                // The second replica's registry catches up under its own lock: held here, it stays behind.
                synchronized (second.revocationRegistry()) {
                    lanyard.revocations().revoke(RevokeRequest.newBuilder()
                            .setTarget(RevocationTarget.newBuilder().setSpiffeId(agentId))
                            .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
                    long certificates = lanyard.rows("issued_certificates");
                    long tokens = lanyard.rows("minted_tokens");
                    String refusal = refusalOf(agentSerial);

                    var result = onSecond.batchNewX509Svid(BatchNewX509SvidRequest.newBuilder().addParams(params)
                            .build()).getResults(0);
                    assertThat(result.getErrorCode()).isEqualTo("PERMISSION_DENIED");
                    assertThat(result.getErrorMessage()).isEqualTo(refusal);
                    assertRefused(() -> onSecond.newJwtSvid(jwt), Status.Code.PERMISSION_DENIED, refusal);

                    assertThat(lanyard.rows("issued_certificates")).isEqualTo(certificates);
                    assertThat(lanyard.rows("minted_tokens")).isEqualTo(tokens);
                    assertThat(second.revocationRegistry().refusalFor(dev.lanyard.spiffe.SpiffeId.parse(agentId),
                            java.util.Optional.empty())).as("still behind").isEmpty();
                }
                List<AuditEvent> audit = second.audit().recent(10);
                assertThat(audit).anyMatch(e -> e.action().equals("certificate.agent") && e.actor().equals(agentId)
                        && e.outcome() == AuditEvent.Outcome.REFUSED && e.reason().contains(refusalOf(agentSerial)));
                assertThat(audit).anyMatch(e -> e.action().equals("token.issue") && e.actor().equals(agentId)
                        && e.outcome() == AuditEvent.Outcome.REFUSED && e.reason().contains(refusalOf(agentSerial)));
            } finally {
                channel.shutdownNow();
            }
        }
    }

    private static String refusalOf(String serial) {
        return "certificate " + serial + " was revoked while this request was being served";
    }

    @Test
    void aRevokedNodeCannotAttestAgainWithTheSameEvidenceUntilReinstated() {
        KeyPair nodeKeys = Csrs.ecP256();
        X509Certificate node = pki.node("node-9", nodeKeys, java.time.Instant.now().minusSeconds(60),
                java.time.Instant.now().plus(Duration.ofDays(1)));
        String agentId = attestX509Pop(node, nodeKeys).getSpiffeId();
        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(agentId))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        assertRefused(() -> attestX509Pop(node, nodeKeys), Status.Code.PERMISSION_DENIED, "revoked");
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("agent.attest");
            assertThat(e.actor()).isEqualTo(agentId);
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
        });

        lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(agentId).setNote("node rebuilt").build());
        CertificateResponse again = attestX509Pop(node, nodeKeys);
        assertThat(again.getSpiffeId()).isEqualTo(agentId);
    }

    @Test
    void registrationsCheckTheirParentAndSelectors() {
        assertRefused(() -> register(API, TD + "/ns/not/an/agent", "unix:uid:1000"), Status.Code.INVALID_ARGUMENT,
                "is not an agent ID");
        assertRefused(() -> register(API, "x509pop:subject:cn:node-7", "unix:uid:root"), Status.Code.INVALID_ARGUMENT,
                "not a number");
        assertRefused(() -> register(API, "x509pop:subject:cn:node-7", "unix:sha256:XYZ"), Status.Code.INVALID_ARGUMENT,
                "64 lower-case hex");
        assertRefused(() -> register(API, "x509pop:subject:cn:node-7"), Status.Code.INVALID_ARGUMENT,
                "parent_id and selectors go together");
        var created = register(API, "x509pop:subject:cn:node-7", "unix:uid:1000", "unix:path:/usr/bin/api");
        assertThat(created.getParentId()).isEqualTo("x509pop:subject:cn:node-7");
        assertThat(created.getSelectorsList()).containsExactly("unix:path:/usr/bin/api", "unix:uid:1000");
    }

    @Test
    void anIdConfiguredAsAnAdminAfterItWasRegisteredIsNeitherServedNorIssued() throws Exception {
        String alice = TD + "/ops/alice";
        String carol = TD + "/ops/carol";
        Credential agent = attestWithJoinToken();
        String agentId = CertificateServiceTest.spiffeIdOf(agent.leaf());
        register(alice, agentId, "unix:uid:1000");
        register(API, agentId, "unix:uid:1000");
        lanyard.register(carol);
        String carolsToken = lanyard.joinToken(carol);
        lanyard.close();
        // the same data directory, now with two admin IDs outside /lanyard/
        lanyard = RunningServer.start(dir.resolve("data"), Map.of("x509pop.roots", dir.resolve("node-ca.pem").toString(),
                "admin.spiffe-ids", TD + "/lanyard/admin," + alice + "," + carol));

        assertThat(agents(agent).listEntries(ListEntriesRequest.getDefaultInstance()).getEntriesList())
                .extracting(r -> r.getSpiffeId()).containsExactly(API);
        BatchNewX509SvidResponse batch = agents(agent).batchNewX509Svid(BatchNewX509SvidRequest.newBuilder()
                .addParams(SvidParams.newBuilder().setSpiffeId(alice).setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))))
                .build());
        assertThat(batch.getResults(0).getErrorCode()).isEqualTo("PERMISSION_DENIED");
        assertThat(batch.getResults(0).getErrorMessage()).contains(alice + " is an admin of this server");
        assertRefused(() -> lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                        .setAttestation(RunningServer.joinTokenAttestation(carolsToken))
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build()),
                Status.Code.PERMISSION_DENIED, carol + " is an admin of this server");

        List<AuditEvent> audit = lanyard.server().audit().recent(50);
        assertThat(audit).anyMatch(e -> e.action().equals("certificate.agent") && e.target().equals(alice)
                && e.outcome() == AuditEvent.Outcome.REFUSED && e.reason().contains("is an admin of this server"));
        assertThat(audit).anyMatch(e -> e.action().equals("certificate.bootstrap") && e.target().equals(carol)
                && e.outcome() == AuditEvent.Outcome.REFUSED && e.reason().contains("is an admin of this server"));
        assertThat(lanyard.admin().listCertificates(dev.lanyard.v1.ListCertificatesRequest.getDefaultInstance())
                .getCertificatesList()).extracting(c -> c.getSpiffeId()).doesNotContain(alice, carol);
    }

    // --- helpers ---

    dev.lanyard.v1.Registration register(String id, String parent, String... selectors) {
        return lanyard.admin().createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(id)
                .setParentId(parent).addAllSelectors(List.of(selectors)).build());
    }

    AgentServiceGrpc.AgentServiceBlockingStub agents(Credential client) {
        return AgentServiceGrpc.newBlockingStub(lanyard.channel(client)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    String agentJoinToken() {
        return lanyard.admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setAgent(true).build()).getToken();
    }

    Credential attestWithJoinToken() {
        KeyPair keys = Csrs.ecP256();
        return RunningServer.credential(keys, attest(RunningServer.joinTokenAttestation(agentJoinToken()), keys, null));
    }

    @Test
    void anAttestationThatDoesNotFinishInTimeIsEnded() throws Exception {
        lanyard.close();
        lanyard = RunningServer.start(dir.resolve("data"), Map.of("x509pop.roots",
                dir.resolve("node-ca.pem").toString(), "agent.attestation-timeout", "1s"));
        KeyPair nodeKeys = Csrs.ecP256();
        X509Certificate node = pki.node("node-7", nodeKeys, java.time.Instant.now().minusSeconds(60),
                java.time.Instant.now().plus(Duration.ofDays(1)));
        // One stream gets its challenge and never answers; another never sends anything at all.
        LinkedBlockingQueue<Object> answered = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<Object> silent = new LinkedBlockingQueue<>();
        var stub = AgentServiceGrpc.newStub(lanyard.channel(null));
        long start = System.nanoTime();
        StreamObserver<AttestAgentRequest> challenged = stub.attestAgent(collect(answered));
        challenged.onNext(AttestAgentRequest.newBuilder().setParams(AttestAgentParams.newBuilder()
                .setAttestation(Attestation.newBuilder().setX509Pop(X509PopAttestation.newBuilder()
                        .addChain(ByteString.copyFrom(encoded(node)))))
                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256())))).build());
        stub.attestAgent(collect(silent));

        assertThat(answered.poll(10, TimeUnit.SECONDS)).isInstanceOfSatisfying(AttestAgentResponse.class,
                r -> assertThat(r.hasChallenge()).isTrue());
        for (LinkedBlockingQueue<Object> stream : List.of(answered, silent)) {
            assertThat(stream.poll(10, TimeUnit.SECONDS)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
                assertThat(e.getStatus().getDescription()).isEqualTo("the attestation did not finish within 1s"
                        + " (agent.attestation-timeout): attest again");
            });
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
        // One that answers in time is not affected.
        assertThat(attestWithX509Pop("node-7", nodeKeys).leaf()).isNotNull();
    }

    private static StreamObserver<AttestAgentResponse> collect(LinkedBlockingQueue<Object> inbox) {
        return new StreamObserver<>() {
            @Override
            public void onNext(AttestAgentResponse response) {
                inbox.add(response);
            }

            @Override
            public void onError(Throwable t) {
                inbox.add(t);
            }

            @Override
            public void onCompleted() {
                inbox.add("completed");
            }
        };
    }

    Credential attestWithX509Pop(String cn, KeyPair nodeKeys) {
        X509Certificate node = pki.node(cn, nodeKeys, java.time.Instant.now().minusSeconds(60),
                java.time.Instant.now().plus(Duration.ofDays(1)));
        KeyPair agentKeys = Csrs.ecP256();
        return RunningServer.credential(agentKeys, attestX509Pop(node, nodeKeys, agentKeys));
    }

    CertificateResponse attestX509Pop(X509Certificate node, KeyPair signer) {
        return attestX509Pop(node, signer, Csrs.ecP256());
    }

    CertificateResponse attestX509Pop(X509Certificate node, KeyPair signer, KeyPair agentKeys) {
        return attest(Attestation.newBuilder().setX509Pop(X509PopAttestation.newBuilder()
                .addChain(ByteString.copyFrom(encoded(node)))).build(), agentKeys, signer);
    }

    /** Runs the AttestAgent stream: params, then (x509pop) the signed challenge; the SVID or the refusal. */
    CertificateResponse attest(Attestation attestation, KeyPair agentKeys, KeyPair challengeSigner) {
        LinkedBlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
        CompletableFuture<CertificateResponse> done = new CompletableFuture<>();
        var stub = AgentServiceGrpc.newStub(lanyard.channel(null)).withDeadlineAfter(30, TimeUnit.SECONDS);
        StreamObserver<AttestAgentRequest>[] requests = new StreamObserver[1];
        requests[0] = stub.attestAgent(new StreamObserver<>() {
            @Override
            public void onNext(AttestAgentResponse response) {
                if (response.hasSvid()) {
                    done.complete(response.getSvid());
                    return;
                }
                try {
                    Signature signer = Signature.getInstance("SHA256withECDSA");
                    signer.initSign(challengeSigner.getPrivate());
                    signer.update(response.getChallenge().toByteArray());
                    requests[0].onNext(AttestAgentRequest.newBuilder()
                            .setChallengeResponse(ByteString.copyFrom(signer.sign())).build());
                } catch (Exception e) {
                    done.completeExceptionally(e);
                }
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                inbox.add("completed");
            }
        });
        requests[0].onNext(AttestAgentRequest.newBuilder().setParams(AttestAgentParams.newBuilder()
                .setAttestation(attestation).setCsr(ByteString.copyFrom(Csrs.csr(agentKeys)))).build());
        try {
            CertificateResponse svid = done.get(30, TimeUnit.SECONDS);
            requests[0].onCompleted();
            return svid;
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException(e.getCause());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] encoded(X509Certificate cert) {
        try {
            return cert.getEncoded();
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }
}
