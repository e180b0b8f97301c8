package dev.lanyard.client.token;

import static dev.lanyard.client.testing.TestTokens.AUDIENCE;
import static dev.lanyard.client.testing.TestTokens.ISSUER;
import static dev.lanyard.client.testing.TestTokens.SUBJECT;
import static dev.lanyard.client.testing.TestTokens.claims;
import static dev.lanyard.client.testing.TestTokens.header;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.client.testing.NothingRevoked;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.client.token.TokenRejectedException.Reason;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TokenVerifierTest {

    private static final Instant NOW = Instant.parse("2030-01-01T12:00:00Z");
    private static final TestTokens TOKENS = new TestTokens();
    private static final TestPki PKI = new TestPki(Clock.systemUTC(), "lanyard.local");
    private static final X509Certificate CALLER = PKI.leaf(SUBJECT).leaf();
    private static final X509Certificate OTHER = PKI.leaf("spiffe://lanyard.local/ns/shop/sa/other").leaf();

    private static TokenVerifier verifierAt(Instant now) {
        return TokenVerifier.builder()
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .jwks(JwksSource.fixed(TOKENS.publicJwks()))
                .clock(Clock.fixed(now, ZoneOffset.UTC))
                .build();
    }

    private static JWTClaimsSet.Builder good() {
        return claims(CALLER, NOW);
    }

    /** Verifies {@code token} expecting a refusal, and checks the message never repeats the token. */
    private static TokenRejectedException rejected(TokenVerifier verifier, String token, X509Certificate peer) {
        TokenRejectedException e = catchThrowableOfType(TokenRejectedException.class,
                () -> verifier.verify(token, peer));
        assertThat(e).as("the token should have been refused").isNotNull();
        String[] parts = token.split("\\.", -1);
        for (String part : parts) {
            if (part.length() > 8) {
                assertThat(e.getMessage()).doesNotContain(part);
            }
        }
        return e;
    }

    private static TokenRejectedException rejected(String token) {
        return rejected(verifierAt(NOW), token, CALLER);
    }

    @Test
    void acceptsAGoodToken() throws Exception {
        JWTClaimsSet claims = good().build();
        VerifiedToken verified = verifierAt(NOW).verify(TOKENS.es256(claims), CALLER);

        assertThat(verified.subject()).isEqualTo(SUBJECT);
        assertThat(verified.audience()).isEqualTo(AUDIENCE);
        assertThat(verified.scopes()).containsExactlyInAnyOrder("inventory.read", "inventory.write");
        assertThat(verified.tokenId()).isEqualTo(claims.getJWTID());
        assertThat(verified.expiresAt()).isEqualTo(NOW.plus(Duration.ofMinutes(5)));
        assertThat(verified.keyId()).isEqualTo("es256-key");
    }

    /** A revocation set whose first load the test decides (by counting {@code loaded} down). */
    private static final class Loading {
        final CountDownLatch loaded = new CountDownLatch(1);
        final NothingRevoked set = new NothingRevoked(wait -> loaded.await(wait.toNanos(), TimeUnit.NANOSECONDS));
    }

    /**
     * A verifier that has just started, whose revocations are not loaded yet, could let a revoked caller
     * through: it refuses every token, retryably, until they are.
     */
    @Test
    void refusesEveryTokenUntilTheRevocationsAreLoaded() throws Exception {
        Loading revocations = new Loading();
        TokenVerifier verifier = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(JwksSource.fixed(TOKENS.publicJwks())).clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .revocations(revocations.set).build();
        String token = TOKENS.es256(good().build());

        TokenRejectedException e = rejected(verifier, token, CALLER);
        assertThat(e.reason()).isEqualTo(Reason.REVOCATIONS_NOT_LOADED);
        assertThat(e.getMessage()).contains("revocations are not loaded yet");

        revocations.loaded.countDown();
        assertThat(verifier.verify(token, CALLER).subject()).isEqualTo(SUBJECT);
    }

    /** With a revocation wait, a check made just before the first load waits for it. */
    @Test
    void waitsForTheFirstLoadWithinTheRevocationWait() throws Exception {
        Loading revocations = new Loading();
        TokenVerifier verifier = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(JwksSource.fixed(TOKENS.publicJwks())).clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .revocations(revocations.set).revocationWait(Duration.ofSeconds(10)).build();
        Thread loader = new Thread(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            revocations.loaded.countDown();
        });
        loader.start();
        assertThat(verifier.verify(TOKENS.es256(good().build()), CALLER).subject()).isEqualTo(SUBJECT);
        loader.join();
        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(JwksSource.fixed(TOKENS.publicJwks())).clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .revocationWait(Duration.ofSeconds(-1)).build())
                .hasMessage("revocation wait PT-1S is negative");
    }

    @ParameterizedTest
    @ValueSource(strings = {"ES384", "EdDSA", "RS256", "PS256"})
    void acceptsEveryDefaultAlgorithmWithItsKey(String alg) throws Exception {
        JWSAlgorithm algorithm = JWSAlgorithm.parse(alg);
        String kid = switch (alg) {
            case "ES384" -> TOKENS.es384.getKeyID();
            case "EdDSA" -> TOKENS.ed25519.getKeyID();
            default -> TOKENS.rsa.getKeyID();
        };
        String token = TOKENS.sign(header(algorithm, kid).build(), good().build());

        assertThat(verifierAt(NOW).verify(token, CALLER).keyId()).isEqualTo(kid);
    }

    @Test
    void refusesAnExpiredToken() {
        TokenRejectedException e = rejected(verifierAt(NOW.plus(Duration.ofMinutes(6))),
                TOKENS.es256(good().build()), CALLER);

        assertThat(e.reason()).isEqualTo(Reason.EXPIRED);
        assertThat(e.getMessage()).isEqualTo("EXPIRED: the token expired at 2030-01-01T12:05:00Z "
                + "(now 2030-01-01T12:06:00Z, allowed skew 30 s)");
    }

    @Test
    void refusesATokenNotYetValid() {
        String token = TOKENS.es256(good().notBeforeTime(Date.from(NOW.plusSeconds(60))).build());

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.NOT_YET_VALID);
        assertThat(e.getMessage()).isEqualTo("NOT_YET_VALID: the token is not valid before 2030-01-01T12:01:00Z "
                + "(now 2030-01-01T12:00:00Z, allowed skew 30 s)");
    }

    @Test
    void refusesATokenIssuedInTheFuture() {
        String token = TOKENS.es256(good().issueTime(Date.from(NOW.plusSeconds(60))).build());

        assertThat(rejected(token).reason()).isEqualTo(Reason.NOT_YET_VALID);
    }

    @Test
    void expiryIsExactAtTheSkewBoundary() throws Exception {
        String token = TOKENS.es256(good().build());
        Instant exp = NOW.plus(Duration.ofMinutes(5));

        assertThat(verifierAt(exp.plus(Duration.ofSeconds(30)).minusMillis(1)).verify(token, CALLER)).isNotNull();
        assertThat(rejected(verifierAt(exp.plus(Duration.ofSeconds(30))), token, CALLER).reason())
                .isEqualTo(Reason.EXPIRED);
    }

    @Test
    void notBeforeIsExactAtTheSkewBoundary() throws Exception {
        Instant nbf = NOW.plusSeconds(120);
        String token = TOKENS.es256(good().notBeforeTime(Date.from(nbf)).issueTime(Date.from(nbf)).build());

        assertThat(verifierAt(nbf.minus(Duration.ofSeconds(30))).verify(token, CALLER)).isNotNull();
        assertThat(rejected(verifierAt(nbf.minus(Duration.ofSeconds(30)).minusMillis(1)), token, CALLER).reason())
                .isEqualTo(Reason.NOT_YET_VALID);
    }

    @Test
    void refusesAnotherAudience() {
        String token = TOKENS.es256(good().audience("spiffe://lanyard.local/ns/finance/sa/ledger").build());

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.AUDIENCE);
        assertThat(e.getMessage()).isEqualTo("AUDIENCE: audience \"spiffe://lanyard.local/ns/finance/sa/ledger\" "
                + "is not the expected \"" + AUDIENCE + "\"");
    }

    @Test
    void refusesATokenForSeveralAudiences() {
        String token = TOKENS.es256(good().audience(List.of(AUDIENCE, "spiffe://lanyard.local/x")).build());

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.AUDIENCE);
        assertThat(e.getMessage()).contains("names 2 audiences");
    }

    @Test
    void refusesAnotherIssuer() {
        String token = TOKENS.es256(good().issuer("https://evil.test").build());

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.ISSUER);
        assertThat(e.getMessage()).isEqualTo("ISSUER: issuer \"https://evil.test\" is not the expected \""
                + ISSUER + "\"");
    }

    @Test
    void refusesAlgNone() {
        String token = new PlainJWT(good().build()).serialize();

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.ALGORITHM);
        assertThat(e.getMessage()).isEqualTo("ALGORITHM: alg none is never accepted: the token is unsigned");
    }

    @Test
    void refusesHs256SignedWithThePublicKeyAsSecret() throws Exception {
        SignedJWT jwt = new SignedJWT(header(JWSAlgorithm.HS256, TOKENS.es256.getKeyID()).build(), good().build());
        jwt.sign(new MACSigner(TOKENS.es256.toECPublicKey().getEncoded()));

        TokenRejectedException e = rejected(jwt.serialize());

        assertThat(e.reason()).isEqualTo(Reason.ALGORITHM);
        assertThat(e.getMessage()).isEqualTo(
                "ALGORITHM: alg \"HS256\" is never accepted: HMAC would use a public key as a shared secret");
    }

    @Test
    void refusesAnUnknownKid() {
        String token = TOKENS.sign(header(JWSAlgorithm.ES256, "retired-long-ago").build(), good().build());

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.UNKNOWN_KEY);
        assertThat(e.getMessage()).isEqualTo("UNKNOWN_KEY: no published key has kid \"retired-long-ago\"");
    }

    @Test
    void refusesATamperedPayload() {
        String token = TOKENS.es256(good().build());
        String[] parts = token.split("\\.");
        String forged = Base64URL.encode(good().claim("scope", "inventory.read inventory.admin").build().toString())
                .toString();

        TokenRejectedException e = rejected(parts[0] + "." + forged + "." + parts[2]);

        assertThat(e.reason()).isEqualTo(Reason.SIGNATURE);
        assertThat(e.getMessage()).isEqualTo("SIGNATURE: the signature does not verify with key \"es256-key\"");
    }

    @Test
    void refusesATokenBoundToAnotherCertificate() {
        TokenRejectedException e = rejected(verifierAt(NOW), TOKENS.es256(good().build()), OTHER);

        assertThat(e.reason()).isEqualTo(Reason.CNF_MISMATCH);
        assertThat(e.getMessage()).isEqualTo("CNF_MISMATCH: the token is bound to another certificate than the "
                + "caller's (serial " + OTHER.getSerialNumber().toString(16) + ")");
    }

    @Test
    void refusesATokenPresentedWithoutACertificate() {
        TokenRejectedException e = rejected(verifierAt(NOW), TOKENS.es256(good().build()), null);

        assertThat(e.reason()).isEqualTo(Reason.CNF_MISMATCH);
        assertThat(e.getMessage()).contains("the caller presented none");
    }

    @Test
    void refusesATokenWithoutScopeClaim() {
        TokenRejectedException e = rejected(TOKENS.es256(good().claim("scope", null).build()));

        assertThat(e.reason()).isEqualTo(Reason.MISSING_CLAIM);
        assertThat(e.getMessage()).isEqualTo("MISSING_CLAIM: the token has no scope claim");
    }

    @ParameterizedTest
    @ValueSource(strings = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf"})
    void refusesATokenMissingAnyRequiredClaim(String claim) {
        TokenRejectedException e = rejected(TOKENS.es256(good().claim(claim, null).build()));

        assertThat(e.reason()).isEqualTo(Reason.MISSING_CLAIM);
        assertThat(e.getMessage()).isEqualTo("MISSING_CLAIM: the token has no " + claim + " claim");
    }

    @Test
    void refusesACnfWithoutTheCertificateThumbprint() {
        TokenRejectedException e = rejected(TOKENS.es256(good().claim("cnf", Map.of("jkt", "abc")).build()));

        assertThat(e.reason()).isEqualTo(Reason.MISSING_CLAIM);
        assertThat(e.getMessage()).isEqualTo("MISSING_CLAIM: the token has no cnf.x5t#S256 claim");
    }

    @Test
    void refusesClaimsOfTheWrongType() {
        assertThat(rejected(TOKENS.es256(good().claim("scope", List.of("inventory.read")).build())).getMessage())
                .isEqualTo("MALFORMED: scope is not a string");
        assertThat(rejected(TOKENS.es256(good().claim("exp", "tomorrow").build())).getMessage())
                .isEqualTo("MALFORMED: exp is not a NumericDate from 0 to 1e11");
        assertThat(rejected(TOKENS.es256(good().claim("cnf", "abc").build())).getMessage())
                .isEqualTo("MALFORMED: cnf is not a JSON object");
        Map<String, Object> audNumber = good().build().toJSONObject();
        audNumber.put("aud", 42);
        assertThat(rejected(TOKENS.sign(header(JWSAlgorithm.ES256, TOKENS.es256.getKeyID()).build(),
                new Payload(audNumber))).getMessage())
                .isEqualTo("MALFORMED: the claims are not valid: \"Illegal aud claim\"");
        assertThat(rejected(TOKENS.sign(header(JWSAlgorithm.ES256, TOKENS.es256.getKeyID()).build(),
                new Payload("[1, 2]"))).getMessage())
                .isEqualTo("MALFORMED: the payload is not a JSON object");
    }

    @Test
    void refusesBadlyFormedScopesAndSubjects() {
        assertThat(rejected(TOKENS.es256(good().claim("scope", "inventory.read  admin").build())).getMessage())
                .startsWith("MALFORMED: scope holds \"\", which is not a scope name");
        assertThat(rejected(TOKENS.es256(good().claim("scope", "Inventory.Read").build())).reason())
                .isEqualTo(Reason.MALFORMED);
        assertThat(rejected(TOKENS.es256(good().subject("frontend").build())).getMessage())
                .isEqualTo("MALFORMED: sub \"frontend\" is not a SPIFFE ID");
    }

    @Test
    void acceptsAnEmptyScopeAsNoScopes() throws Exception {
        VerifiedToken verified = verifierAt(NOW).verify(TOKENS.es256(good().claim("scope", "").build()), CALLER);

        assertThat(verified.scopes()).isEmpty();
    }

    @Test
    void refusesAnAlgorithmTheVerifierDoesNotAllow() {
        TokenVerifier es256Only = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(JwksSource.fixed(TOKENS.publicJwks())).clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .allowedAlgorithms(EnumSet.of(SignatureAlgorithm.ES256)).build();
        String token = TOKENS.sign(header(JWSAlgorithm.RS256, TOKENS.rsa.getKeyID()).build(), good().build());

        TokenRejectedException e = rejected(es256Only, token, CALLER);

        assertThat(e.reason()).isEqualTo(Reason.ALGORITHM);
        assertThat(e.getMessage()).isEqualTo("ALGORITHM: alg \"RS256\" is not among the allowed [ES256]");
    }

    @Test
    void refusesAnAlgorithmTheKeyDoesNotFit() {
        // ES384 named in the header, but the kid points at the P-256 key.
        String token = TOKENS.sign(header(JWSAlgorithm.ES384, TOKENS.es256.getKeyID()).build(), good().build());

        TokenRejectedException e = rejected(token);

        assertThat(e.reason()).isEqualTo(Reason.ALGORITHM);
        assertThat(e.getMessage()).isEqualTo("ALGORITHM: the token says ES384, which needs an EC P-384 key, "
                + "but key \"es256-key\" is an EC P-256 key");
    }

    @Test
    void refusesATokenWhoseAlgDiffersFromTheKeysPublishedAlg() throws Exception {
        JWKSet keys = new JWKSet(new com.nimbusds.jose.jwk.RSAKey.Builder(TOKENS.rsa.toRSAPublicKey())
                .keyID(TOKENS.rsa.getKeyID()).algorithm(JWSAlgorithm.PS256).build());
        TokenVerifier verifier = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(JwksSource.fixed(keys)).clock(Clock.fixed(NOW, ZoneOffset.UTC)).build();
        String token = TOKENS.sign(header(JWSAlgorithm.RS256, TOKENS.rsa.getKeyID()).build(), good().build());

        TokenRejectedException e = rejected(verifier, token, CALLER);

        assertThat(e.reason()).isEqualTo(Reason.ALGORITHM);
        assertThat(e.getMessage()).isEqualTo("ALGORITHM: key \"rsa-key\" is published for \"PS256\", "
                + "the token says RS256");
    }

    @Test
    void refusesMalformedTokens() {
        assertThat(rejected("not-a-token").getMessage()).startsWith("MALFORMED: not a compact JWS");
        assertThat(rejected("a.b.c").reason()).isEqualTo(Reason.MALFORMED);
        assertThat(rejected("x".repeat(TokenVerifier.MAX_TOKEN_CHARS + 1)).getMessage())
                .isEqualTo("MALFORMED: the token is 16385 characters long; at most 16384 are accepted");
        assertThatThrownBy(() -> verifierAt(NOW).verify(null, CALLER))
                .isInstanceOf(TokenRejectedException.class).hasMessage("MALFORMED: no token");
    }

    @Test
    void refusesAHeaderWithoutKidOrWithAnotherTypeOrCriticalParameters() {
        JWSHeader noKid = new JWSHeader.Builder(JWSAlgorithm.ES256).type(JOSEObjectType.JWT).build();
        assertThat(rejected(TOKENS.sign(noKid, good().build())).getMessage())
                .isEqualTo("MISSING_CLAIM: the token header has no kid");

        JWSHeader jose = header(JWSAlgorithm.ES256, TOKENS.es256.getKeyID()).type(new JOSEObjectType("at+jwt")).build();
        assertThat(rejected(TOKENS.sign(jose, good().build())).getMessage()).isEqualTo("MALFORMED: typ \"at+jwt\" is not JWT");

        JWSHeader critical = header(JWSAlgorithm.ES256, TOKENS.es256.getKeyID())
                .customParam("exp", 1).criticalParams(Set.of("exp")).build();
        assertThat(rejected(TOKENS.sign(critical, good().build())).getMessage())
                .startsWith("MALFORMED: the token marks header parameters critical");
    }

    @Test
    void saysWhyWhenTheKeySetCannotBeRead() {
        TokenVerifier verifier = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(kid -> {
                    throw new JwksUnavailableException("no JWKS could be fetched from http://127.0.0.1:9/jwks.json");
                })
                .clock(Clock.fixed(NOW, ZoneOffset.UTC)).build();

        TokenRejectedException e = rejected(verifier, TOKENS.es256(good().build()), CALLER);

        assertThat(e.reason()).isEqualTo(Reason.UNKNOWN_KEY);
        assertThat(e.getMessage()).isEqualTo("UNKNOWN_KEY: cannot look up key \"es256-key\": "
                + "no JWKS could be fetched from http://127.0.0.1:9/jwks.json");
    }

    @Test
    void buildRefusesAnIncompleteOrUnsafeVerifier() {
        Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
        JwksSource jwks = JwksSource.fixed(TOKENS.publicJwks());

        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).jwks(jwks).clock(clock).build())
                .hasMessage("an expected audience is required (this service's lanyard.v1.audience)");
        assertThatThrownBy(() -> TokenVerifier.builder().audience(AUDIENCE).jwks(jwks).clock(clock).build())
                .hasMessage("an expected issuer is required (the Lanyard server's issuer URL)");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE).clock(clock).build())
                .hasMessage("a JWKS source is required (jwks or jwksUri)");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE).jwks(jwks).build())
                .hasMessage("a clock is required");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE).jwks(jwks).clock(clock)
                .skew(Duration.ofMinutes(5).plusSeconds(1)).build())
                .hasMessage("skew 301 s is more than the 5 minute cap");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE).jwks(jwks).clock(clock)
                .skew(Duration.ofSeconds(-1)).build())
                .hasMessage("skew PT-1S is negative");
        assertThatThrownBy(() -> TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE).jwks(jwks).clock(clock)
                .allowedAlgorithms(Set.of()).build())
                .hasMessage("at least one algorithm must be allowed");
        assertThatThrownBy(() -> TokenVerifier.builder().allowedAlgorithms("ES256", "none"))
                .hasMessage("alg none can never be allowed: it means an unsigned token");
        assertThatThrownBy(() -> TokenVerifier.builder().allowedAlgorithms("HS256"))
                .hasMessage("alg HS256 can never be allowed: HMAC would use a public key as a shared secret");
        assertThatThrownBy(() -> TokenVerifier.builder().jwksUri(java.net.URI.create("http://127.0.0.1/"),
                java.net.http.HttpClient.newHttpClient()))
                .hasMessage("set the clock before jwksUri: the JWKS cache runs on it");
    }

    @Test
    void acceptsTheMaximumSkewAndUsesIt() throws Exception {
        TokenVerifier lenient = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
                .jwks(JwksSource.fixed(TOKENS.publicJwks()))
                .clock(Clock.fixed(NOW.plus(Duration.ofMinutes(9)), ZoneOffset.UTC))
                .skew(TokenVerifier.MAX_SKEW).allowedAlgorithms("ES256").build();

        assertThat(lenient.skew()).isEqualTo(Duration.ofMinutes(5));
        assertThat(lenient.allowedAlgorithms()).containsExactly(SignatureAlgorithm.ES256);
        assertThat(lenient.verify(TOKENS.es256(good().build()), CALLER).subject()).isEqualTo(SUBJECT);
    }

    @Test
    void fixedSourceRefusesPrivateKeys() {
        assertThatThrownBy(() -> JwksSource.fixed(new JWKSet(TOKENS.es256)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the key set holds private key material (kid \"es256-key\"); a verifier needs public keys only");
    }
}
