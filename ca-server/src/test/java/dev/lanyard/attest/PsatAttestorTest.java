package dev.lanyard.attest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.testing.HttpsJwks;
import dev.lanyard.testing.MutableClock;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** k8s_psat with a cluster key pair and JWKS file made here (no cluster). */
class PsatAttestorTest {

    static final String ISSUER = "https://kubernetes.default.svc.cluster.local";
    static RSAKey clusterKey;
    static RSAKey otherKey;

    final MutableClock clock = MutableClock.startingNow();
    @TempDir
    Path dir;

    @BeforeAll
    static void keys() throws Exception {
        clusterKey = new RSAKeyGenerator(2048).keyID("cluster-1").generate();
        otherKey = new RSAKeyGenerator(2048).keyID("cluster-1").generate();
    }

    PsatAttestor attestor() throws Exception {
        return attestor(Duration.ofHours(2));
    }

    PsatAttestor attestor(Duration maxTokenLifetime) throws Exception {
        Path jwks = dir.resolve("jwks.json");
        Files.writeString(jwks, new JWKSet(clusterKey.toPublicJWK()).toString());
        return new PsatAttestor(cluster(maxTokenLifetime),
                PsatKeys.source(Optional.of(jwks), Optional.empty(), Optional.empty()), clock);
    }

    static PsatAttestor.Cluster cluster(Duration maxTokenLifetime) {
        return new PsatAttestor.Cluster("prod", ISSUER, "lanyard", Set.of("lanyard:lanyard-agent"), maxTokenLifetime);
    }

    String token(RSAKey key, String issuer, String audience, Instant expires, String namespace, String account)
            throws Exception {
        return sign(key, claims(issuer, audience, expires, namespace, account).build());
    }

    /** What a kubelet projects: bound to the pod, naming the node (Kubernetes 1.30+), issued 10 s ago. */
    JWTClaimsSet.Builder claims(String issuer, String audience, Instant expires, String namespace, String account) {
        return new JWTClaimsSet.Builder().issuer(issuer).audience(audience)
                .subject("system:serviceaccount:" + namespace + ":" + account)
                .issueTime(Date.from(clock.instant().minusSeconds(10))).notBeforeTime(Date.from(clock.instant().minusSeconds(10)))
                .expirationTime(Date.from(expires))
                .claim("kubernetes.io", Map.of("namespace", namespace,
                        "serviceaccount", Map.of("name", account, "uid", "sa-uid"),
                        "pod", Map.of("name", "lanyard-agent-x7", "uid", "pod-uid-1"),
                        "node", Map.of("name", "node-7", "uid", "node-uid-1")));
    }

    JWTClaimsSet.Builder goodClaims() {
        return claims(ISSUER, "lanyard", clock.instant().plus(Duration.ofMinutes(10)), "lanyard", "lanyard-agent");
    }

    static String sign(RSAKey key, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID())
                .type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    String good() throws Exception {
        return token(clusterKey, ISSUER, "lanyard", clock.instant().plus(Duration.ofMinutes(10)), "lanyard", "lanyard-agent");
    }

    @Test
    void aGoodTokenAttestsTheNodeItNamesByItsUid() throws Exception {
        AttestedNode node = attestor().verify(new NodeEvidence.Psat("prod", good()), new byte[0], new byte[0]);
        assertThat(node.id()).isEqualTo("prod/node-uid-1");
        assertThat(node.selectors()).containsExactly("k8s_psat:cluster:prod", "k8s_psat:agent_ns:lanyard",
                "k8s_psat:agent_sa:lanyard-agent", "k8s_psat:agent_pod_name:lanyard-agent-x7",
                "k8s_psat:agent_node_name:node-7");
    }

    /** A node deleted and recreated under its name is another agent: the old one's revocation is not its. */
    @Test
    void aNodeRecreatedWithTheSameNameIsAnotherAgentBehindTheSameNameSelector() throws Exception {
        String recreated = sign(clusterKey, goodClaims().claim("kubernetes.io", Map.of("namespace", "lanyard",
                "serviceaccount", Map.of("name", "lanyard-agent", "uid", "sa-uid"),
                "pod", Map.of("name", "lanyard-agent-q2", "uid", "pod-uid-2"),
                "node", Map.of("name", "node-7", "uid", "node-uid-2"))).build());
        PsatAttestor attestor = attestor();
        AttestedNode before = attestor.verify(new NodeEvidence.Psat("prod", good()), new byte[0], new byte[0]);
        AttestedNode after = attestor.verify(new NodeEvidence.Psat("prod", recreated), new byte[0], new byte[0]);
        assertThat(after.id()).isEqualTo("prod/node-uid-2").isNotEqualTo(before.id());
        assertThat(after.selectors()).contains("k8s_psat:agent_node_name:node-7");
    }

    @Test
    void aTokenNamingNoNodeAttestsItsPod() throws Exception {
        String older = sign(clusterKey, goodClaims().claim("kubernetes.io", Map.of("namespace", "lanyard",
                "serviceaccount", Map.of("name", "lanyard-agent", "uid", "sa-uid"),
                "pod", Map.of("name", "lanyard-agent-x7", "uid", "pod-uid-1"))).build());
        AttestedNode node = attestor().verify(new NodeEvidence.Psat("prod", older), new byte[0], new byte[0]);
        assertThat(node.id()).isEqualTo("prod/pod-uid-1");
        assertThat(node.selectors()).noneMatch(s -> s.startsWith("k8s_psat:agent_node_name:"));
    }

    /** kubectl create token --bound-object-kind Node: a cluster admin's token, not an agent pod's. */
    @Test
    void aTokenBoundToANodeButNoPodIsRefused() throws Exception {
        refused(sign(clusterKey, goodClaims().claim("kubernetes.io", Map.of("namespace", "lanyard",
                        "serviceaccount", Map.of("name", "lanyard-agent", "uid", "sa-uid"),
                        "node", Map.of("name", "node-8", "uid", "node-uid-8"))).build()),
                AttestationException.Reason.DENIED, "not bound to a pod");
        refused(sign(clusterKey, goodClaims().claim("kubernetes.io", Map.of("namespace", "lanyard",
                        "serviceaccount", Map.of("name", "lanyard-agent", "uid", "sa-uid"),
                        "pod", Map.of("name", "lanyard-agent-x7"))).build()),
                AttestationException.Reason.MALFORMED, "pod.uid");
    }

    @Test
    void aTokenLivingLongerThanTheCapIsRefused() throws Exception {
        Instant now = clock.instant();
        String yearLong = sign(clusterKey, goodClaims().issueTime(Date.from(now.minus(Duration.ofDays(300))))
                .notBeforeTime(null).expirationTime(Date.from(now.plus(Duration.ofDays(65)))).build());
        refused(yearLong, AttestationException.Reason.DENIED,
                "lives 31536000s from iat to exp, more than psat.max-token-lifetime (7200s)");

        // What a kubelet projects by default (expirationSeconds 3600) passes the default cap, not a 30m one.
        String hour = sign(clusterKey, goodClaims().issueTime(Date.from(now.minusSeconds(60)))
                .expirationTime(Date.from(now.plusSeconds(3540))).build());
        assertThat(attestor().verify(new NodeEvidence.Psat("prod", hour), new byte[0], new byte[0]).id())
                .isEqualTo("prod/node-uid-1");
        PsatAttestor strict = attestor(Duration.ofMinutes(30));
        assertThatThrownBy(() -> strict.verify(new NodeEvidence.Psat("prod", hour), new byte[0], new byte[0]))
                .isInstanceOf(AttestationException.class).hasMessageContaining("more than psat.max-token-lifetime (1800s)");
    }

    @Test
    void aTokenWithoutIatOrIssuedLaterIsRefused() throws Exception {
        refused(sign(clusterKey, goodClaims().issueTime(null).build()), AttestationException.Reason.MALFORMED,
                "has no iat claim");
        refused(sign(clusterKey, goodClaims().issueTime(Date.from(clock.instant().plusSeconds(300))).build()),
                AttestationException.Reason.EXPIRED, "not valid yet");
    }

    /** A cluster's JWKS over real TLS whose CA only psat.jwks-ca-file makes trusted. */
    @Test
    void anHttpsJwksIsTrustedThroughTheClusterCaFileAndNotWithoutIt() throws Exception {
        try (HttpsJwks endpoint = HttpsJwks.serve(new JWKSet(clusterKey.toPublicJWK()))) {
            Path ca = endpoint.writeCa(dir.resolve("cluster-ca.pem"));
            PsatAttestor withCa = new PsatAttestor(cluster(Duration.ofHours(2)),
                    PsatKeys.source(Optional.empty(), Optional.of(endpoint.url()), Optional.of(ca)), clock);
            assertThat(withCa.verify(new NodeEvidence.Psat("prod", good()), new byte[0], new byte[0]).id())
                    .isEqualTo("prod/node-uid-1");
            assertThat(endpoint.fetches()).isEqualTo(1);

            PsatAttestor jdkRoots = new PsatAttestor(cluster(Duration.ofHours(2)),
                    PsatKeys.source(Optional.empty(), Optional.of(endpoint.url()), Optional.empty()), clock);
            String token = good();
            assertThatThrownBy(() -> jdkRoots.verify(new NodeEvidence.Psat("prod", token), new byte[0], new byte[0]))
                    .isInstanceOf(AttestationException.class)
                    .hasMessage("the cluster's JWKS cannot be fetched (psat.jwks-url), a failure on the server's"
                            + " side; try again later (the server log says why)")
                    .extracting(e -> ((AttestationException) e).reason())
                    .isEqualTo(AttestationException.Reason.UNAVAILABLE);
            assertThat(endpoint.fetches()).as("the TLS handshake failed before any request").isEqualTo(1);
        }
    }

    @Test
    void aJwksUrlOtherThanHttpsOrAnUnusableCaFileIsRefused() throws Exception {
        assertThatThrownBy(() -> PsatKeys.source(Optional.empty(),
                Optional.of(URI.create("http://127.0.0.1:8080/openid/v1/jwks")), Optional.empty()))
                .isInstanceOf(IOException.class).hasMessageContaining("psat.jwks-url must be an https:// URL");
        Path empty = Files.writeString(dir.resolve("empty.pem"), "");
        assertThatThrownBy(() -> PsatKeys.source(Optional.empty(),
                Optional.of(URI.create("https://k8s.example/openid/v1/jwks")), Optional.of(empty)))
                .isInstanceOf(IOException.class).hasMessageContaining("psat.jwks-ca-file " + empty + " holds no PEM certificate");
    }

    @Test
    void wrongAudienceIsRefused() throws Exception {
        refused(token(clusterKey, ISSUER, "vault", clock.instant().plusSeconds(600), "lanyard", "lanyard-agent"),
                AttestationException.Reason.UNTRUSTED, "audience does not include lanyard");
    }

    @Test
    void wrongIssuerIsRefused() throws Exception {
        refused(token(clusterKey, "https://other.cluster", "lanyard", clock.instant().plusSeconds(600), "lanyard",
                "lanyard-agent"), AttestationException.Reason.UNTRUSTED, "not the cluster's issuer");
    }

    @Test
    void anotherKeyIsRefused() throws Exception {
        refused(token(otherKey, ISSUER, "lanyard", clock.instant().plusSeconds(600), "lanyard", "lanyard-agent"),
                AttestationException.Reason.UNTRUSTED, "signature does not verify");
    }

    @Test
    void anExpiredTokenIsRefused() throws Exception {
        String token = good();
        clock.advance(Duration.ofMinutes(11));
        refused(token, AttestationException.Reason.EXPIRED, "has expired");
    }

    @Test
    void aServiceAccountNotAllowedIsRefused() throws Exception {
        refused(token(clusterKey, ISSUER, "lanyard", clock.instant().plusSeconds(600), "default", "default"),
                AttestationException.Reason.DENIED, "default:default is not allowed");
    }

    @Test
    void anUnknownClusterIsRefused() throws Exception {
        assertThatThrownBy(() -> attestor().verify(new NodeEvidence.Psat("staging", good()), new byte[0], new byte[0]))
                .isInstanceOf(AttestationException.class).hasMessageContaining("not configured");
    }

    @Test
    void theTokenNeverAppearsInARefusalOrInToString() throws Exception {
        String token = token(clusterKey, ISSUER, "vault", clock.instant().plusSeconds(600), "lanyard", "lanyard-agent");
        assertThatThrownBy(() -> attestor().verify(new NodeEvidence.Psat("prod", token), new byte[0], new byte[0]))
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(token.substring(token.lastIndexOf('.') + 1)));
        assertThat(new NodeEvidence.Psat("prod", token).toString()).doesNotContain(token);
    }

    void refused(String token, AttestationException.Reason reason, String message) throws Exception {
        PsatAttestor attestor = attestor();
        assertThatThrownBy(() -> attestor.verify(new NodeEvidence.Psat("prod", token), new byte[0], new byte[0]))
                .isInstanceOf(AttestationException.class).hasMessageContaining(message)
                .extracting(e -> ((AttestationException) e).reason()).isEqualTo(reason);
    }

}
