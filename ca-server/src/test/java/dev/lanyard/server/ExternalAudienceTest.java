package dev.lanyard.server;

import static dev.lanyard.server.CertificateServiceTest.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.token.JwtKeySets;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import io.grpc.Status;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Audiences outside the contracts, declared in the grants policy with their own algorithm and max
 * TTL: AWS STS gets RS256 tokens, Vault ES256; the JWKS then carries an RSA key beside the EC one, and
 * discovery lists both algorithms with every field OpenID Connect Discovery requires.
 */
class ExternalAudienceTest {

    static final String ROLE = "spiffe://lanyard.local/ns/ops/sa/deployer";
    static final String OTHER = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String POLICY = """
            version: 2
            grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
            external_audiences { audience: "sts.amazonaws.com" algorithm: "RS256" max_ttl { seconds: 900 }
                                 spiffe_ids: "spiffe://lanyard.local/ns/ops/*" }
            external_audiences { audience: "vault" algorithm: "ES256" max_ttl { seconds: 600 }
                                 spiffe_ids: "spiffe://lanyard.local/ns/ops/sa/deployer" }
            """;

    @TempDir
    Path dir;
    RunningServer lanyard;
    Credential role;
    Credential other;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.publishExampleContracts();
        lanyard.applyPolicy(POLICY);
        lanyard.register(ROLE);
        lanyard.register(OTHER);
        role = lanyard.bootstrap(ROLE);
        other = lanyard.bootstrap(OTHER);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void anRs256TokenForAwsStsVerifiesWithTheRsaKeyOfTheJwks() throws Exception {
        IssueTokenResponse token = lanyard.tokens(role).issueToken(IssueTokenRequest.newBuilder()
                .setAudience("sts.amazonaws.com").setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(900))
                .build());
        SignedJWT jwt = SignedJWT.parse(token.getToken());
        assertThat(jwt.getHeader().getAlgorithm()).isEqualTo(JWSAlgorithm.RS256);
        var claims = jwt.getJWTClaimsSet();
        assertThat(claims.getSubject()).isEqualTo(ROLE);
        assertThat(claims.getAudience()).containsExactly("sts.amazonaws.com");
        assertThat(claims.getIssuer()).isEqualTo(lanyard.server().config().issuer());
        assertThat(claims.getClaim("scope")).as("an external audience has no scopes").isNull();
        assertThat(Duration.between(claims.getIssueTime().toInstant(), claims.getExpirationTime().toInstant()))
                .isEqualTo(Duration.ofMinutes(15));

        JWKSet jwks = JWKSet.parse(get("/.well-known/jwks.json"));
        assertThat(jwks.getKeys()).extracting(JWK::getAlgorithm).contains(JWSAlgorithm.RS256, JWSAlgorithm.ES256);
        assertThat(jwks.getKeys()).hasSizeLessThanOrEqualTo(JwtKeySets.MAX_PUBLISHED_KEYS);
        RSAKey rsa = (RSAKey) jwks.getKeyByKeyId(token.getKeyId());
        assertThat(rsa.getModulus().decode().length * 8).isGreaterThanOrEqualTo(2048);
        assertThat(jwt.verify(new RSASSAVerifier(rsa))).isTrue();

        assertThat(lanyard.server().audit().recent(50)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("token.issue");
            assertThat(e.target()).contains("audience sts.amazonaws.com");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
            assertThat(e.toString()).doesNotContain(token.getToken());
        });
    }

    @Test
    void anEs256ExternalAudienceIsSignedWithTheEcKey() throws Exception {
        IssueTokenResponse token = lanyard.tokens(role).issueToken(IssueTokenRequest.newBuilder()
                .setAudience("vault").build());
        SignedJWT jwt = SignedJWT.parse(token.getToken());
        assertThat(jwt.getHeader().getAlgorithm()).isEqualTo(JWSAlgorithm.ES256);
        ECKey ec = (ECKey) JWKSet.parse(get("/.well-known/jwks.json")).getKeyByKeyId(token.getKeyId());
        assertThat(jwt.verify(new ECDSAVerifier(ec))).isTrue();
    }

    @Test
    @SuppressWarnings("unchecked")
    void discoveryHasEveryRequiredFieldAndBothAlgorithms() throws Exception {
        Map<String, Object> discovery = JSONObjectUtils.parse(get("/.well-known/openid-configuration"));
        String issuer = lanyard.server().config().issuer();
        assertThat(discovery).containsEntry("issuer", issuer)
                .containsEntry("jwks_uri", issuer + "/.well-known/jwks.json")
                .containsKeys("authorization_endpoint", "response_types_supported", "subject_types_supported",
                        "id_token_signing_alg_values_supported");
        assertThat((List<Object>) discovery.get("id_token_signing_alg_values_supported")).contains("RS256", "ES256");
        assertThat((List<Object>) discovery.get("subject_types_supported")).containsExactly("public");
    }

    @Test
    void scopesUnlistedCallersLongTtlsAndBadDeclarationsAreRefused() {
        assertRefused(() -> lanyard.tokens(other).issueToken(IssueTokenRequest.newBuilder()
                        .setAudience("sts.amazonaws.com").build()),
                Status.Code.PERMISSION_DENIED, OTHER + " may not get tokens for the external audience sts.amazonaws.com");
        assertRefused(() -> lanyard.tokens(role).issueToken(IssueTokenRequest.newBuilder()
                        .setAudience("sts.amazonaws.com").addScopes("payments.read").build()),
                Status.Code.INVALID_ARGUMENT, "is an external audience: it takes no scopes");
        assertRefused(() -> lanyard.tokens(role).issueToken(IssueTokenRequest.newBuilder().setAudience("vault")
                        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(601)).build()),
                Status.Code.INVALID_ARGUMENT, "at most PT10M");
        assertThatThrownBy(() -> lanyard.applyPolicy("""
                version: 3
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "vault" scopes: "payments.read" }
                external_audiences { audience: "vault" algorithm: "HS256" spiffe_ids: "spiffe://lanyard.local/x" }
                external_audiences { audience: "vault" algorithm: "RS256" max_ttl { seconds: 60 } }
                """)).hasMessageContaining("HS256").hasMessageContaining("is not one of RS256, ES256")
                .hasMessageContaining("max_ttl must be set and positive")
                .hasMessageContaining("is declared twice")
                .hasMessageContaining("names no spiffe_ids")
                .hasMessageContaining("grants (which give contract scopes) cannot name it");
    }

    private String get(String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl(path))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
