package dev.lanyard.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.Optional;
import org.jose4j.jwk.JsonWebKeySet;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.consumer.JwtConsumer;
import org.jose4j.jwt.consumer.JwtConsumerBuilder;
import org.jose4j.keys.resolvers.JwksVerificationKeyResolver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TokenMinterTest {

    private static final Instant NOW = Instant.parse("2026-11-01T12:00:00Z");
    private final MutableClock clock = new MutableClock(NOW);

    @Test
    void claimsAreExactlyTheJwtSvidProfile() throws Exception {
        JwtSigningKeys keys = Fixtures.keys(SigningAlgorithm.ES256, Fixtures.dailyPolicy(), clock);
        MintedToken token = Fixtures.minter(keys, clock).mint(Fixtures.request(NOW.plusSeconds(3600), Optional.empty()));
        SignedJWT jwt = SignedJWT.parse(token.jwt());

        assertThat(jwt.getHeader().getAlgorithm().getName()).isEqualTo("ES256");
        assertThat(jwt.getHeader().getKeyID()).isEqualTo(keys.active().kid()).isEqualTo(token.kid());
        assertThat(jwt.getHeader().getType().getType()).isEqualTo("JWT");
        var claims = jwt.getJWTClaimsSet();
        assertThat(claims.getClaims().keySet())
                .containsExactlyInAnyOrder("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "scope", "cnf");
        assertThat(claims.getIssuer()).isEqualTo(Fixtures.ISSUER);
        assertThat(claims.getSubject()).isEqualTo(Fixtures.CALLER.toString());
        assertThat(claims.getAudience()).containsExactly("payments");
        assertThat(claims.getIssueTime()).isEqualTo(Date.from(NOW));
        assertThat(claims.getNotBeforeTime()).isEqualTo(Date.from(NOW));
        assertThat(claims.getExpirationTime()).isEqualTo(Date.from(NOW.plus(TokenMinter.DEFAULT_TTL)));
        assertThat(claims.getJWTID()).isEqualTo(token.jti()).hasSize(TokenIds.LENGTH);
        assertThat(claims.getStringClaim("scope")).isEqualTo("payments.charge payments.read");
        assertThat(claims.getJSONObjectClaim("cnf")).isEqualTo(Map.of("x5t#S256", "thumbprint-of-the-callers-certificate"));
        assertThat(token.toString()).doesNotContain(token.jwt());
        assertThat(jwt.verify(new ECDSAVerifier((ECKey) JWKSet.parse(JwksDocument.publicJwks(keys.published()))
                .getKeyByKeyId(token.kid())))).isTrue();
    }

    @Test
    void eachTokenNamesTheKeyThatSignedItAcrossARotation() throws Exception {
        JwtSigningKeys keys = Fixtures.keys(SigningAlgorithm.ES256, Fixtures.dailyPolicy(), clock);
        TokenMinter minter = Fixtures.minter(keys, clock);
        String first = keys.active().kid();
        SignedJWT one = SignedJWT.parse(minter.mint(Fixtures.request(NOW.plus(Duration.ofDays(3)), Optional.empty())).jwt());
        SignedJWT two = SignedJWT.parse(minter.mint(Fixtures.request(NOW.plus(Duration.ofDays(3)), Optional.empty())).jwt());
        assertThat(one.getHeader().getKeyID()).isEqualTo(first);
        assertThat(two.getHeader().toBase64URL()).isEqualTo(one.getHeader().toBase64URL());

        for (int step = 0; step < 6 * 48 && keys.active().kid().equals(first); step++) {
            clock.advance(Duration.ofMinutes(10)); // the next key is published ahead, then activated
            keys.tick(StepLog.unrecorded());
        }
        assertThat(keys.active().kid()).isNotEqualTo(first);
        SignedJWT after = SignedJWT.parse(minter.mint(Fixtures.request(NOW.plus(Duration.ofDays(3)), Optional.empty())).jwt());
        assertThat(after.getHeader().getKeyID()).isEqualTo(keys.active().kid());
        assertThat(after.verify(new ECDSAVerifier((ECKey) JWKSet.parse(JwksDocument.publicJwks(keys.published()))
                .getKeyByKeyId(after.getHeader().getKeyID())))).isTrue();
    }

    @Test
    void neverOutlivesTheCallersCertificateAndRefusesTooLongTtls() throws Exception {
        JwtSigningKeys keys = Fixtures.keys(SigningAlgorithm.ES256, Fixtures.dailyPolicy(), clock);
        TokenMinter minter = Fixtures.minter(keys, clock);
        MintedToken clamped = minter.mint(Fixtures.request(NOW.plusSeconds(60), Optional.of(Duration.ofMinutes(10))));
        assertThat(clamped.expiresAt()).isEqualTo(NOW.plusSeconds(60));
        assertThatThrownBy(() -> minter.mint(Fixtures.request(NOW.plusSeconds(3600), Optional.of(Duration.ofMinutes(16)))))
                .hasMessageContaining("at most PT15M");
        assertThatThrownBy(() -> minter.mint(Fixtures.request(NOW.minusSeconds(1), Optional.empty())))
                .hasMessageContaining("expired");
    }

    @ParameterizedTest
    @EnumSource(SigningAlgorithm.class)
    void everyAlgorithmVerifiesWithAnIndependentJoseImplementation(SigningAlgorithm algorithm) throws Exception {
        JwtSigningKeys keys = Fixtures.keys(algorithm, Fixtures.dailyPolicy(), clock);
        MintedToken token = Fixtures.minter(keys, clock).mint(Fixtures.request(NOW.plusSeconds(3600), Optional.empty()));
        String jwks = JwksDocument.publicJwks(keys.published());
        assertThat(jwks).doesNotContain("\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"");

        // jose4j, not Nimbus, checks signature, issuer, audience and times against the published JWKS.
        JwtConsumer consumer = new JwtConsumerBuilder()
                .setVerificationKeyResolver(new JwksVerificationKeyResolver(new JsonWebKeySet(jwks).getJsonWebKeys()))
                .setExpectedIssuer(Fixtures.ISSUER)
                .setExpectedAudience("payments")
                .setRequireExpirationTime()
                .setEvaluationTime(org.jose4j.jwt.NumericDate.fromSeconds(NOW.getEpochSecond()))
                .build();
        JwtClaims claims = consumer.processToClaims(token.jwt());
        assertThat(claims.getSubject()).isEqualTo(Fixtures.CALLER.toString());

        if (algorithm == SigningAlgorithm.RS256 || algorithm == SigningAlgorithm.PS256) {
            JWSVerifier nimbus = new RSASSAVerifier((RSAKey) JWKSet.parse(jwks).getKeyByKeyId(token.kid()));
            assertThat(SignedJWT.parse(token.jwt()).verify(nimbus)).isTrue();
        }
    }
}
