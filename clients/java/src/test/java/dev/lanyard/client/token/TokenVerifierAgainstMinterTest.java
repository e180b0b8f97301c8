package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.nimbusds.jose.jwk.JWKSet;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.jwks.JwksDocument;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.token.CertificateThumbprint;
import dev.lanyard.token.JwtSigningKeys;
import dev.lanyard.token.KeySealer;
import dev.lanyard.token.MintedToken;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.token.SigningKeyRepository;
import dev.lanyard.token.StoredSigningKey;
import dev.lanyard.token.TokenMinter;
import dev.lanyard.token.TokenRequest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
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

    /** Keeps signing keys in memory with the same compare-and-set rules as the SQL store. */
    private static final class InMemorySigningKeys implements SigningKeyRepository {
        private final List<StoredSigningKey> keys = new ArrayList<>();

        @Override
        public synchronized void insert(StoredSigningKey key) {
            keys.add(key);
        }

        @Override
        public synchronized boolean updateStatus(String kid, KeyStatus from, KeyStatus to, Instant at) {
            for (int i = 0; i < keys.size(); i++) {
                StoredSigningKey k = keys.get(i);
                if (k.kid().equals(kid) && k.status() == from) {
                    keys.set(i, new StoredSigningKey(k.kid(), k.algorithm(), to, k.publicJwkJson(), k.sealedPrivateKey(),
                            k.createdAt(), to == KeyStatus.ACTIVE ? Optional.of(at) : k.activatedAt(),
                            to == KeyStatus.RETIRED ? Optional.of(at) : k.retiredAt()));
                    return true;
                }
            }
            return false;
        }

        @Override
        public synchronized List<StoredSigningKey> all() {
            return List.copyOf(keys);
        }

        @Override
        public synchronized boolean delete(String kid) {
            return keys.removeIf(k -> k.kid().equals(kid));
        }
    }

    /** Hands out opaque handles and keeps the keys in memory: no private key is ever serialized. */
    private static final class InMemorySealer implements KeySealer {
        private final Map<String, PrivateKey> sealed = new ConcurrentHashMap<>();

        @Override
        public String seal(PrivateKey key, String keyId) {
            String handle = UUID.randomUUID().toString();
            sealed.put(handle, key);
            return handle;
        }

        @Override
        public PrivateKey open(String handle, String keyId) {
            return sealed.get(handle);
        }
    }

    private record Minted(MintedToken token, JWKSet jwks) {
    }

    private Minted mint(SigningAlgorithm algorithm, Set<String> scopes) throws Exception {
        BouncyCastleProvider bc = new BouncyCastleProvider();
        JwtSigningKeys keys = new JwtSigningKeys(new InMemorySigningKeys(), new InMemorySealer(),
                new RotationPlanner(new RotationPolicy(Duration.ofHours(6), Duration.ofMinutes(15), Duration.ofHours(1))),
                algorithm, bc, bc, clock);
        keys.tick();
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
