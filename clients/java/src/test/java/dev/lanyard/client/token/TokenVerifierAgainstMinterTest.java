package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.nimbusds.jose.jwk.JWKSet;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.token.CertificateThumbprint;
import dev.lanyard.token.JwtSigningKeys;
import dev.lanyard.token.MintedToken;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.token.TokenMinter;
import dev.lanyard.token.TokenRequest;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The verifier against tokens and a JWKS made by Lanyard's own minter (identity-issuer), for every
 * signing algorithm the server can be configured with: the two sides agree on the format.
 */
class TokenVerifierAgainstMinterTest {

    private final MutableClock clock = MutableClock.startingNow();
    private final TestPki pki = new TestPki(clock, "lanyard.local");
    private final X509Certificate caller = pki.leaf(TestTokens.SUBJECT).leaf();


    private record Minted(MintedToken token, JWKSet jwks) {
    }

    private Minted mint(SigningAlgorithm algorithm, Set<String> scopes) throws Exception {
        BouncyCastleProvider bc = new BouncyCastleProvider();
        JwtSigningKeys keys = new JwtSigningKeys(
                new dev.lanyard.token.InMemorySigningKeyRepository(),
                new dev.lanyard.custody.SoftwareCustody(new dev.lanyard.custody.InMemorySealedKeyRepository(),
                        new dev.lanyard.custody.TestSealer(), bc, bc, clock),
                new RotationPlanner(new RotationPolicy(Duration.ofHours(6), Duration.ofMinutes(15), Duration.ofHours(1))),
                algorithm, new java.security.SecureRandom(), clock);
        keys.tick(StepLog.unrecorded());
        TokenMinter minter = new TokenMinter(keys, TestTokens.ISSUER, clock, new SecureRandom(), Duration.ofHours(1));
        MintedToken token = minter.mint(new TokenRequest(SpiffeId.parse(TestTokens.SUBJECT), TestTokens.AUDIENCE, scopes,
                Optional.empty(), CertificateThumbprint.x5tS256(caller.getEncoded()),
                caller.getNotAfter().toInstant()));
        return new Minted(token, JWKSet.parse(JwksDocument.publicJwks(keys.published())));
    }

    private TokenVerifier verifier(JWKSet jwks) {
        return TokenVerifier.builder().issuer(TestTokens.ISSUER).audience(TestTokens.AUDIENCE)
                .jwks(JwksSource.fixed(jwks)).clock(clock).build();
    }

    @ParameterizedTest
    @EnumSource(SigningAlgorithm.class)
    void verifiesWhatTheMinterSignsWithTheJwksItPublishes(SigningAlgorithm algorithm) throws Exception {
        Minted minted = mint(algorithm, Set.of("inventory.write", "inventory.read"));

        VerifiedToken verified = verifier(minted.jwks()).verify(minted.token().jwt(), caller);

        assertThat(verified.subject()).isEqualTo(TestTokens.SUBJECT);
        assertThat(verified.audience()).isEqualTo(TestTokens.AUDIENCE);
        assertThat(verified.scopes()).containsExactlyInAnyOrder("inventory.read", "inventory.write");
        assertThat(verified.tokenId()).isEqualTo(minted.token().jti());
        assertThat(verified.keyId()).isEqualTo(minted.token().kid());
        assertThat(verified.expiresAt()).isEqualTo(minted.token().expiresAt());
    }

    @ParameterizedTest
    @EnumSource(value = SigningAlgorithm.class, names = {"ES256", "EdDSA"})
    void refusesAMintedTokenOverAnotherCertificateAndAfterExpiry(SigningAlgorithm algorithm) throws Exception {
        Minted minted = mint(algorithm, Set.of("inventory.read"));
        X509Certificate other = pki.leaf(TestTokens.SUBJECT).leaf();

        assertThat(catchThrowableOfType(TokenRejectedException.class,
                () -> verifier(minted.jwks()).verify(minted.token().jwt(), other)).reason())
                .isEqualTo(TokenRejectedException.Reason.CNF_MISMATCH);
        clock.advance(Duration.ofMinutes(6));
        assertThat(catchThrowableOfType(TokenRejectedException.class,
                () -> verifier(minted.jwks()).verify(minted.token().jwt(), caller)).reason())
                .isEqualTo(TokenRejectedException.Reason.EXPIRED);
    }
}
