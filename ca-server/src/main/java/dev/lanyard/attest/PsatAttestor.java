package dev.lanyard.attest;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.lanyard.attest.AttestationException.Reason;
import dev.lanyard.audit.AuditText;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * k8s_psat: a Kubernetes projected service-account token, checked against the cluster's OIDC issuer
 * and JWKS (a file or an https URL, see {@code ServerConfig}): signature, {@code iss}, {@code aud}, time
 * claims (with a little skew; {@code iat} required and {@code exp - iat} capped, as a stolen token replays
 * until it expires), the pod it is bound to, and that its namespace:service-account is allowed. The agent
 * ID is {@code <cluster>/<node uid>} when the token names the node (Kubernetes 1.30+; a node recreated with
 * the same name is another agent), else {@code <cluster>/<pod uid>}.
 */
public final class PsatAttestor implements NodeAttestor {

    /**
     * How a cluster is trusted. {@code allowed} holds "namespace:service-account" entries;
     * {@code maxTokenLifetime} caps a token's {@code exp - iat}.
     */
    public record Cluster(String name, String issuer, String audience, Set<String> allowed, Duration maxTokenLifetime) {
        public Cluster {
            allowed = Set.copyOf(allowed);
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(PsatAttestor.class);
    private static final Duration SKEW = Duration.ofSeconds(30);
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9._-]{1,253}");

    private final Cluster cluster;
    private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    private final Clock clock;

    public PsatAttestor(Cluster cluster, JWKSource<SecurityContext> keys, Clock clock) {
        this.cluster = cluster;
        this.clock = clock;
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(Set.of(JWSAlgorithm.RS256, JWSAlgorithm.RS384,
                JWSAlgorithm.RS512, JWSAlgorithm.PS256, JWSAlgorithm.ES256, JWSAlgorithm.ES384), keys));
        // The claims are checked below against the injected clock; Nimbus' own check reads the system time.
        processor.setJWTClaimsSetVerifier((claims, context) -> {
        });
    }

    @Override
    public String kind() {
        return "k8s_psat";
    }

    @Override
    public AttestedNode verify(NodeEvidence evidence, byte[] challenge, byte[] response) throws AttestationException {
        NodeEvidence.Psat psat = (NodeEvidence.Psat) evidence;
        if (!cluster.name().equals(psat.cluster())) {
            // never the text itself: it may be a secret pasted into the wrong field
            throw new AttestationException(Reason.UNTRUSTED, AuditText.unnamed("cluster", psat.cluster())
                    + " is not configured on this server (psat.cluster)");
        }
        if (psat.token().isEmpty()) {
            throw new AttestationException(Reason.MISSING, "the service-account token is empty");
        }
        JWTClaimsSet claims;
        try {
            claims = processor.process(psat.token(), null);
        } catch (ParseException e) {
            throw new AttestationException(Reason.MALFORMED, "the service-account token is not a JWT");
        } catch (KeySourceException e) {
            // The server's side (psat.jwks-url unreachable or its TLS not trusted), not the agent's: it may
            // retry. The cause (host, port, TLS detail) is for the log only.
            LOG.warn("k8s_psat: the JWKS of cluster {} cannot be fetched: {}", cluster.name(), causes(e));
            throw new AttestationException(Reason.UNAVAILABLE, "the cluster's JWKS cannot be fetched"
                    + " (psat.jwks-url), a failure on the server's side; try again later (the server log says why)");
        } catch (Exception e) {
            // Nimbus' messages can quote the token's content; say only what failed.
            throw new AttestationException(Reason.UNTRUSTED,
                    "the service-account token's signature does not verify with the cluster's JWKS");
        }
        if (!cluster.issuer().equals(claims.getIssuer())) {
            throw new AttestationException(Reason.UNTRUSTED, "the service-account token was issued by '"
                    + printable(String.valueOf(claims.getIssuer())) + "', not the cluster's issuer " + cluster.issuer());
        }
        if (claims.getAudience() == null || !claims.getAudience().contains(cluster.audience())) {
            throw new AttestationException(Reason.UNTRUSTED,
                    "the service-account token's audience does not include " + cluster.audience());
        }
        checkTimes(claims);
        Map<String, Object> k8s = map(claims.getClaim("kubernetes.io"));
        String namespace = safe(k8s.get("namespace"), "namespace");
        String account = safe(map(k8s.get("serviceaccount")).get("name"), "serviceaccount.name");
        if (!cluster.allowed().contains(namespace + ":" + account)) {
            throw new AttestationException(Reason.DENIED, "service account " + namespace + ":" + account
                    + " is not allowed to attest agents (psat.allowed-service-accounts)");
        }
        // A projected token is bound to its pod; one bound to a node or a secret only is not an agent's.
        Map<String, Object> pod = map(k8s.get("pod"));
        if (pod.isEmpty()) {
            throw new AttestationException(Reason.DENIED, "the service-account token is not bound to a pod"
                    + " (no kubernetes.io pod claim): give the agent a projected service-account token");
        }
        String podName = safe(pod.get("name"), "pod.name");
        String podUid = safe(pod.get("uid"), "pod.uid");
        List<String> selectors = new ArrayList<>(List.of("k8s_psat:cluster:" + cluster.name(),
                "k8s_psat:agent_ns:" + namespace, "k8s_psat:agent_sa:" + account, "k8s_psat:agent_pod_name:" + podName));
        Map<String, Object> node = map(k8s.get("node"));
        String id = podUid;
        if (!node.isEmpty()) {
            // The node's uid names the agent (as SPIRE's); its name stays a selector registrations may parent to.
            selectors.add("k8s_psat:agent_node_name:" + safe(node.get("name"), "node.name"));
            id = safe(node.get("uid"), "node.uid");
        }
        return new AttestedNode(kind(), cluster.name() + "/" + id, selectors);
    }

    /** exp in the future, iat (required) not, nbf reached, and exp - iat within the cluster's cap. */
    private void checkTimes(JWTClaimsSet claims) throws AttestationException {
        Instant now = clock.instant();
        Date exp = claims.getExpirationTime();
        Date iat = claims.getIssueTime();
        if (exp == null || iat == null) {
            throw new AttestationException(Reason.MALFORMED, "the service-account token has no "
                    + (exp == null ? "exp" : "iat") + " claim (a projected token carries both)");
        }
        if (!now.minus(SKEW).isBefore(exp.toInstant())) {
            throw new AttestationException(Reason.EXPIRED, "the service-account token has expired");
        }
        Date nbf = claims.getNotBeforeTime();
        if (now.plus(SKEW).isBefore(iat.toInstant()) || nbf != null && now.plus(SKEW).isBefore(nbf.toInstant())) {
            throw new AttestationException(Reason.EXPIRED, "the service-account token is not valid yet");
        }
        Duration lifetime = Duration.between(iat.toInstant(), exp.toInstant());
        if (lifetime.compareTo(cluster.maxTokenLifetime()) > 0) {
            throw new AttestationException(Reason.DENIED, "the service-account token lives " + lifetime.toSeconds()
                    + "s from iat to exp, more than psat.max-token-lifetime (" + cluster.maxTokenLifetime().toSeconds()
                    + "s): project it with a shorter expirationSeconds");
        }
    }

    /** The messages of {@code e} and its causes (a TLS failure says why only a few causes down). */
    private static String causes(Throwable e) {
        StringBuilder out = new StringBuilder(String.valueOf(e.getMessage()));
        Throwable cause = e.getCause();
        for (int depth = 0; cause != null && depth < 5; depth++, cause = cause.getCause()) {
            if (cause.getMessage() != null && out.indexOf(cause.getMessage()) < 0) {
                out.append(": ").append(cause.getMessage());
            }
        }
        return out.toString();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return value instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static String safe(Object value, String claim) throws AttestationException {
        if (value instanceof String s && SAFE.matcher(s).matches()) {
            return s;
        }
        throw new AttestationException(Reason.MALFORMED, "the service-account token has no usable kubernetes.io "
                + claim + " claim");
    }

    private static String printable(String s) {
        String cut = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return cut.replaceAll("[^\\x20-\\x7e]", "?");
    }
}
