package dev.lanyard.client.vectors;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.JSONObjectUtils;
import dev.lanyard.client.revocation.RevocationSet;
import dev.lanyard.client.token.JwksSource;
import dev.lanyard.client.token.TokenRejectedException;
import dev.lanyard.client.token.TokenVerifier;
import dev.lanyard.client.token.VerifiedToken;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Java verifier against the shared vectors that the Go and Rust verifiers run too. */
class VerificationVectorsTest {

    static final Path FILE = Path.of("..", "..", "testdata", "vectors", "verification.json");

    @Test
    @SuppressWarnings("unchecked")
    void theJavaVerifierReachesEveryExpectedVerdict() throws Exception {
        Map<String, Object> document = JSONObjectUtils.parse(Files.readString(FILE));
        JWKSet jwks = JWKSet.parse((Map<String, Object>) document.get("jwks"));
        List<Map<String, Object>> cases = (List<Map<String, Object>>) document.get("cases");
        assertThat(cases).hasSizeGreaterThan(20);
        List<String> disagreements = new ArrayList<>();
        for (Map<String, Object> c : cases) {
            String verdict = verdict(c, jwks, (String) document.get("issuer"));
            if (!verdict.equals(c.get("expect"))) {
                disagreements.add(c.get("name") + ": expected " + c.get("expect") + ", got " + verdict);
            }
        }
        assertThat(disagreements).isEmpty();
    }

    @Test
    void theCommittedFileHasTheCasesTheGeneratorMakes() throws Exception {
        Map<String, Object> committed = JSONObjectUtils.parse(Files.readString(FILE));
        Map<String, Object> generated = new VerificationVectors().build();
        assertThat(summary(committed)).as("regenerate with VerificationVectors.main").isEqualTo(summary(generated));
    }

    @SuppressWarnings("unchecked")
    private static List<String> summary(Map<String, Object> document) {
        List<String> lines = new ArrayList<>();
        for (Map<String, Object> c : (List<Map<String, Object>>) document.get("cases")) {
            lines.add(c.get("name") + " -> " + c.get("expect") + " at " + ((Number) c.get("now")).longValue());
        }
        return lines;
    }

    @SuppressWarnings("unchecked")
    private static String verdict(Map<String, Object> c, JWKSet jwks, String issuer) throws Exception {
        Instant now = Instant.ofEpochSecond(((Number) c.get("now")).longValue());
        Map<String, Object> revoked = (Map<String, Object>) c.get("revoked");
        TokenVerifier verifier = TokenVerifier.builder()
                .issuer(issuer)
                .audience((String) c.get("audience"))
                .jwks(JwksSource.fixed(jwks))
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .skew(Duration.ofSeconds(((Number) c.get("skew_seconds")).longValue()))
                .revocations(new Listed((List<String>) revoked.get("jtis"), (List<String>) revoked.get("spiffe_ids"),
                        (List<String>) revoked.get("serials")))
                .build();
        X509Certificate peer = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(Base64.getDecoder().decode((String) c.get("peer_certificate"))));
        try {
            VerifiedToken token = verifier.verify((String) c.get("token"), peer);
            return token.missingScopes((List<String>) c.get("required_scopes")).isEmpty() ? "ok" : "missing_scope";
        } catch (TokenRejectedException e) {
            return switch (e.reason()) {
                case MALFORMED, MISSING_CLAIM -> "malformed";
                case ALGORITHM -> "bad_algorithm";
                case UNKNOWN_KEY -> "unknown_key";
                case SIGNATURE -> "bad_signature";
                case ISSUER -> "wrong_issuer";
                case AUDIENCE -> "wrong_audience";
                case EXPIRED -> "expired";
                case NOT_YET_VALID -> "not_yet_valid";
                case CNF_MISMATCH -> "cnf_mismatch";
                case REVOKED -> "revoked";
                case REVOCATIONS_NOT_LOADED -> "revocations_not_loaded";
            };
        }
    }

    /** The revocations a case lists. */
    private record Listed(List<String> jtis, List<String> spiffeIds, List<String> serials) implements RevocationSet {
        @Override
        public boolean isRevokedJti(String jti) {
            return jtis.contains(jti);
        }

        @Override
        public boolean isRevokedIdentity(String spiffeId) {
            return spiffeIds.contains(spiffeId);
        }

        @Override
        public boolean isRevokedSerial(String serialHex) {
            return serials.stream().anyMatch(s -> new BigInteger(s, 16).equals(new BigInteger(serialHex, 16)));
        }
    }
}
