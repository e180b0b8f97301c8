package dev.lanyard.server;

import static dev.lanyard.server.CertificateServiceTest.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.token.CertificateThumbprint;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListKeysRequest;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.Status;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokens from a real server: contracts and grants enforced, tokens bound to the caller's certificate. */
class TokenServiceTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String BATCH = "spiffe://lanyard.local/ns/batch/sa/job";
    static final String POLICY = """
            version: 1
            grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments"
                     scopes: "payments.charge" scopes: "payments.read" }
            grants { spiffe_ids: "spiffe://lanyard.local/ns/batch/sa/job" audience: "ledger" scopes: "ledger.read" }
            """;

    @TempDir
    Path dir;
    RunningServer lanyard;
    Credential web;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.publishExampleContracts();
        lanyard.applyPolicy(POLICY);
        lanyard.register(WEB);
        web = lanyard.bootstrap(WEB);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void mintsACertificateBoundTokenThatVerifiesAgainstThePublishedJwks() throws Exception {
        IssueTokenResponse token = lanyard.tokens(web).issueToken(request("payments", "payments.charge"));
        SignedJWT jwt = SignedJWT.parse(token.getToken());
        var claims = jwt.getJWTClaimsSet();
        assertThat(claims.getSubject()).isEqualTo(WEB);
        assertThat(claims.getAudience()).containsExactly("payments");
        assertThat(claims.getIssuer()).isEqualTo(lanyard.server().config().issuer());
        assertThat(claims.getStringClaim("scope")).isEqualTo("payments.charge");
        assertThat(claims.getJWTID()).isEqualTo(token.getTokenId());
        assertThat(claims.getJSONObjectClaim("cnf"))
                .isEqualTo(Map.of("x5t#S256", CertificateThumbprint.x5tS256(web.leaf().getEncoded())));
        assertThat(Duration.between(claims.getIssueTime().toInstant(), claims.getExpirationTime().toInstant()))
                .isEqualTo(Duration.ofMinutes(5));

        HttpResponse<String> jwks = get("/.well-known/jwks.json", null);
        assertThat(jwks.statusCode()).isEqualTo(200);
        assertThat(jwks.headers().firstValue("Cache-Control")).contains("max-age=300");
        assertThat(jwks.body()).doesNotContain("\"d\"");
        ECKey key = (ECKey) JWKSet.parse(jwks.body()).getKeyByKeyId(token.getKeyId());
        assertThat(jwt.verify(new ECDSAVerifier(key))).isTrue();
        assertThat(get("/.well-known/jwks.json", jwks.headers().firstValue("ETag").orElseThrow()).statusCode())
                .isEqualTo(304);
        assertThat(get("/.well-known/openid-configuration", null).body())
                .contains("\"jwks_uri\":\"" + lanyard.server().config().issuer() + "/.well-known/jwks.json\"");
        String bundle = get("/bundle", null).body();
        assertThat(bundle).contains("\"use\":\"x509-svid\"", "\"use\":\"jwt-svid\"", "\"x5c\"", "spiffe_sequence",
                "\"spiffe_refresh_hint\":300", token.getKeyId());
    }

    @Test
    void refusesWhatTheContractOrTheGrantsDoNotAllow() {
        assertRefused(() -> lanyard.tokens(web).issueToken(request("inventory", "inventory.read")),
                Status.Code.INVALID_ARGUMENT, "inventory");
        assertRefused(() -> lanyard.tokens(web).issueToken(request("payments", "payments.delete")),
                Status.Code.INVALID_ARGUMENT, "payments.delete");
        assertRefused(() -> lanyard.tokens(web).issueToken(request("payments", "payments.refund")),
                Status.Code.PERMISSION_DENIED, WEB + " is not granted [payments.refund] on audience payments");
        assertRefused(() -> lanyard.tokens(web).issueToken(request("ledger", "ledger.read")),
                Status.Code.PERMISSION_DENIED, "[ledger.read] on audience ledger");
        assertRefused(() -> lanyard.tokens(null).issueToken(request("payments", "payments.read")),
                Status.Code.UNAUTHENTICATED, "needs a client certificate");
        assertRefused(() -> lanyard.tokens(web).issueToken(request("payments", "payments.read").toBuilder()
                        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(7200)).build()),
                Status.Code.INVALID_ARGUMENT, "at most");
    }

    @Test
    void aSecretPastedAsTheAudienceOrAScopeIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() {
        for (String secret : PastedSecrets.of(lanyard)) {
            PastedSecrets.refusedWithoutRepeating(() -> lanyard.tokens(web).issueToken(request(secret, "payments.read")),
                    Status.Code.INVALID_ARGUMENT, secret);
            PastedSecrets.refusedWithoutRepeating(() -> lanyard.tokens(web).issueToken(request("payments", secret)),
                    Status.Code.INVALID_ARGUMENT, secret);
            PastedSecrets.refusedWithoutRepeating(() -> lanyard.tokens(web).issueToken(
                    request("payments", "payments.read", secret)), Status.Code.INVALID_ARGUMENT, secret);
            // the chain bounds what is longer than the field allows (a JWT as audience); the rest reaches the issuer
            if (secret.length() <= 128) {
                assertThat(RpcRefusals.of(() -> lanyard.tokens(web).issueToken(request(secret, "payments.read"))))
                        .isEqualTo("INVALID_ARGUMENT: audience (" + secret.length() + " characters) is not an"
                                + " audience: a SPIFFE ID or a name of lower-case letters, digits, '.', '-' and '_'");
                assertThat(RpcRefusals.of(() -> lanyard.tokens(web).issueToken(
                        request("payments", "payments.read", secret)))).startsWith(
                                "INVALID_ARGUMENT: scopes[1] (" + secret.length() + " characters) is not a scope");
                PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "invalid audience (" + secret.length()
                        + " characters)");
                PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "audience payments");
            } else {
                PastedSecrets.assertRefusedRecord(lanyard, "rpc.bounds", "lanyard.v1.TokenService/IssueToken");
            }
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
    }

    @Test
    void aScopeNameTheOldServerRuleAllowedButNoClientVerifierAcceptsIsRefusedByItsPositionAndLength() {
        // [a-z][a-z0-9_]*([.:][a-z0-9_]+)* allowed these; Go, Java and Rust verifiers refuse tokens carrying them
        for (String unverifiable : java.util.List.of("payments.read_", "payments__read")) {
            assertThat(RpcRefusals.of(() -> lanyard.tokens(web).issueToken(request("payments", "payments.charge",
                    unverifiable)))).startsWith("INVALID_ARGUMENT: scopes[1] (" + unverifiable.length()
                            + " characters) is not a scope name every verifier accepts").doesNotContain(unverifiable);
        }
        PastedSecrets.assertRefusedRecord(lanyard, "token.issue", "audience payments");
    }

    @Test
    void aCallerWhoseRegistrationWasDeletedGetsNoToken() {
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(WEB).build());
        assertRefused(() -> lanyard.tokens(web).issueToken(request("payments", "payments.read")),
                Status.Code.PERMISSION_DENIED, "has no registration");
    }

    @Test
    void aTokenNeverOutlivesTheCertificate() throws Exception {
        lanyard.clock().advance(Duration.ofMinutes(58));
        IssueTokenResponse token = lanyard.tokens(web).issueToken(request("payments", "payments.read"));
        assertThat(token.getExpiresAt().getSeconds()).isEqualTo(web.leaf().getNotAfter().toInstant().getEpochSecond());
    }

    @Test
    void mintingIsRateLimitedPerIdentity() {
        var stub = lanyard.tokens(web);
        int minted = 0;
        try {
            for (int i = 0; i < 500; i++) {
                stub.issueToken(request("payments", "payments.read"));
                minted++;
            }
        } catch (io.grpc.StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            assertThat(e.getStatus().getDescription()).contains(WEB, "rate limit");
        }
        assertThat(minted).isBetween(100, 499);
    }

    @Test
    void forcedJwtRotationPublishesBeforeSigning() throws Exception {
        var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        String first = lanyard.tokens(web).issueToken(request("payments", "payments.read")).getKeyId();
        long sequence = lanyard.server().bundles().current().sequence();
        var prepared = keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
        assertThat(prepared.getKeysList()).extracting(k -> k.getStatus()).containsExactlyInAnyOrder("ACTIVE", "PREPARED");
        assertThat(lanyard.server().bundles().current().sequence()).isGreaterThan(sequence);
        assertThat(lanyard.server().bundles().current().proto().getJwtAuthoritiesCount()).isEqualTo(2);
        assertRefused(() -> keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build()),
                Status.Code.FAILED_PRECONDITION, "may sign from");
        assertThat(lanyard.tokens(web).issueToken(request("payments", "payments.read")).getKeyId()).isEqualTo(first);

        lanyard.clock().advance(Duration.ofMinutes(10));
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
        assertThat(lanyard.tokens(web).issueToken(request("payments", "payments.read")).getKeyId()).isNotEqualTo(first);
        assertThat(keys.listKeys(ListKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build()).getKeysList())
                .extracting(k -> k.getStatus()).containsExactlyInAnyOrder("RETIRED", "ACTIVE");
    }

    static IssueTokenRequest request(String audience, String... scopes) {
        return IssueTokenRequest.newBuilder().setAudience(audience).addAllScopes(java.util.List.of(scopes)).build();
    }

    private HttpResponse<String> get(String path, String etag) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(lanyard.httpUrl(path)));
        if (etag != null) {
            request.header("If-None-Match", etag);
        }
        return HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
