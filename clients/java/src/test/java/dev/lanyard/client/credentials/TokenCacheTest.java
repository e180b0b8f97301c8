package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Timestamp;
import com.nimbusds.jwt.JWTClaimsSet;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import io.grpc.Status;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TokenCacheTest {

    private static final TestTokens TOKENS = new TestTokens();

    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T12:00:00Z"));
    private final TestPki pki = new TestPki(clock, "lanyard.local");
    private final Svid first = svid(pki.leaf(TestTokens.SUBJECT));
    private final Svid renewed = svid(pki.leaf(TestTokens.SUBJECT));
    private final FakeIssuer issuer = new FakeIssuer();
    private final TokenCache cache = new TokenCache(issuer, clock);

    private static Svid svid(TestPki.Held held) {
        return new Svid(TestTokens.SUBJECT, held.privateKey(), held.leaf(), List.of(held.intermediate()), List.of());
    }

    /**
     * Mints like Lanyard's TokenService: 5 minute tokens bound to the certificate of the connection,
     * which presents the SVID asked for unless {@code connection} says otherwise.
     */
    private final class FakeIssuer implements TokenCache.Issuer {
        final List<IssueTokenRequest> requests = new ArrayList<>();
        X509Certificate connection;
        Status failure;

        @Override
        public IssueTokenResponse issue(IssueTokenRequest request, Svid svid) throws CredentialException {
            requests.add(request);
            X509Certificate presented = connection != null ? connection : svid.leaf();
            if (failure != null) {
                throw new CredentialException("token for " + request.getAudience(), failure);
            }
            Instant now = clock.instant();
            Instant expires = now.plus(Duration.ofMinutes(5));
            JWTClaimsSet claims = TestTokens.claims(presented, now).audience(request.getAudience())
                    .claim("scope", String.join(" ", request.getScopesList()))
                    .expirationTime(Date.from(expires)).build();
            return IssueTokenResponse.newBuilder()
                    .setToken(TOKENS.es256(claims))
                    .setTokenId(claims.getJWTID())
                    .setExpiresAt(Timestamp.newBuilder().setSeconds(expires.getEpochSecond()))
                    .setKeyId(TOKENS.es256.getKeyID())
                    .build();
        }
    }

    @Test
    void reusesATokenForTheSameAudienceAndScopesInAnyOrder() throws Exception {
        String token = cache.token("payments", Set.of("payments.read", "payments.charge"), first);

        assertThat(cache.token("payments", Set.of("payments.charge", "payments.read"), first)).isEqualTo(token);
        assertThat(issuer.requests).hasSize(1);
        assertThat(issuer.requests.get(0).getScopesList()).containsExactly("payments.charge", "payments.read");
        assertThat(issuer.requests.get(0).getAudience()).isEqualTo("payments");
    }

    @Test
    void keepsSeparateTokensPerAudienceAndScopes() throws Exception {
        cache.token("payments", Set.of("payments.read"), first);
        cache.token("payments", Set.of("payments.read", "payments.charge"), first);
        cache.token("ledger", Set.of("payments.read"), first);

        assertThat(issuer.requests).hasSize(3);
        assertThat(cache.size()).isEqualTo(3);
    }

    @Test
    void mintsAgainThirtySecondsBeforeExpiry() throws Exception {
        String token = cache.token("payments", Set.of("payments.read"), first);

        clock.advance(Duration.ofMinutes(5).minusSeconds(31));
        assertThat(cache.token("payments", Set.of("payments.read"), first)).isEqualTo(token);
        clock.advance(Duration.ofSeconds(1));
        assertThat(cache.token("payments", Set.of("payments.read"), first)).isNotEqualTo(token);
        assertThat(issuer.requests).hasSize(2);
    }

    @Test
    void keepsTokensPerCertificate() throws Exception {
        String token = cache.token("payments", Set.of("payments.read"), first);

        String fresh = cache.token("payments", Set.of("payments.read"), renewed);

        assertThat(fresh).isNotEqualTo(token);
        assertThat(cache.token("payments", Set.of("payments.read"), renewed)).isEqualTo(fresh);
        // A channel that still presents the first certificate still gets the token bound to it.
        assertThat(cache.token("payments", Set.of("payments.read"), first)).isEqualTo(token);
        assertThat(issuer.requests).hasSize(2);
    }

    @Test
    void refusesATokenBoundToAnotherCertificateThanTheOneAskedFor() {
        // Minted over a connection that presented the previous certificate.
        issuer.connection = first.leaf();

        assertThatThrownBy(() -> cache.token("payments", Set.of("payments.read"), renewed))
                .isInstanceOf(CredentialException.class)
                .hasMessage("Lanyard minted a token for payments bound to another certificate than serial "
                        + renewed.serialHex() + ", which the channel presented");
        assertThat(cache.size()).isZero();
    }

    @Test
    void keepsNoTokenPastItsCertificate() throws Exception {
        Svid shortLived = svid(pki.leaf(TestTokens.SUBJECT));
        clock.advance(Duration.between(clock.instant(), shortLived.leaf().getNotAfter().toInstant()).minusMinutes(1));
        String token = cache.token("payments", Set.of("payments.read"), shortLived);

        clock.advance(Duration.ofSeconds(47)); // 12 s (a fifth of the minute left) before the certificate expires
        assertThat(cache.token("payments", Set.of("payments.read"), shortLived)).isEqualTo(token);
        clock.advance(Duration.ofSeconds(1));
        assertThat(cache.token("payments", Set.of("payments.read"), shortLived)).isNotEqualTo(token);
    }

    @Test
    void passesRefusalsOnAndCachesNothing() {
        issuer.failure = Status.PERMISSION_DENIED.withDescription("scope payments.refund is not granted");

        assertThatThrownBy(() -> cache.token("payments", Set.of("payments.refund"), first))
                .isInstanceOf(CredentialException.class)
                .hasMessage("token for payments: PERMISSION_DENIED: scope payments.refund is not granted");
        assertThat(cache.size()).isZero();
    }

    @Test
    void refusesAMissingAudience() {
        assertThatThrownBy(() -> cache.token(" ", Set.of("payments.read"), first))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("an audience is required");
        assertThatThrownBy(() -> cache.token("payments", null, first))
                .isInstanceOf(NullPointerException.class).hasMessage("scopes");
    }
}
