package dev.lanyard.client.vectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.client.token.JwksSource;
import dev.lanyard.client.token.Thumbprint;
import dev.lanyard.client.token.TokenRejectedException;
import dev.lanyard.client.token.TokenVerifier;
import dev.lanyard.testing.Mutator;
import dev.lanyard.testing.MutableClock;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the Java verifier, as the Go ({@code go test -fuzz}) and Rust (proptest) verifiers are:
 * mutated whole tokens seeded with the shared vectors, and mutated header and payload bytes signed
 * with a published key so the checks behind the signature are reached too. No input may throw
 * anything but {@link TokenRejectedException}, and nothing the rules refuse may pass. A few seconds
 * in the normal build; longer with {@code -Dlanyard.fuzz.seconds=300}.
 */
class TokenVerifierFuzzTest {

    private static final Set<String> CONTEXTUAL = Set.of("ok", "expired", "not_yet_valid", "revoked", "missing_scope",
            "cnf_mismatch");

    @Test
    @SuppressWarnings("unchecked")
    void mutatedTokensAreRefusedUnlessTheVectorsHoldThemGood() throws Exception {
        Map<String, Object> document = JSONObjectUtils.parse(Files.readString(VerificationVectorsTest.FILE));
        List<Map<String, Object>> cases = (List<Map<String, Object>>) document.get("cases");
        Set<String> signedByUs = new HashSet<>();
        List<byte[]> seeds = new ArrayList<>();
        for (Map<String, Object> c : cases) {
            seeds.add(((String) c.get("token")).getBytes(StandardCharsets.UTF_8));
            if (CONTEXTUAL.contains(c.get("expect"))) {
                signedByUs.add((String) c.get("token"));
            }
        }
        for (Map<String, Object> c : cases) {
            if (!CONTEXTUAL.contains(c.get("expect"))) {
                signedByUs.remove(c.get("token"));
            }
        }
        X509Certificate peer = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(Base64.getDecoder().decode((String) cases.get(0).get("peer_certificate"))));
        TokenVerifier verifier = TokenVerifier.builder().issuer((String) document.get("issuer"))
                .audience((String) document.get("audience"))
                .jwks(JwksSource.fixed(JWKSet.parse((Map<String, Object>) document.get("jwks"))))
                .clock(Clock.fixed(Instant.ofEpochSecond(((Number) cases.get(0).get("now")).longValue()), ZoneOffset.UTC))
                .build();

        new Mutator(seeds, Duration.ofSeconds(3)).run(input -> {
            String token = new String(input, StandardCharsets.UTF_8);
            try {
                verifier.verify(token, peer);
                assertThat(signedByUs).as("accepted a token the vectors do not hold as good").contains(token);
            } catch (TokenRejectedException refused) {
                // the expected outcome for nearly every mutation
            }
        });
    }

    @Test
    void signedMutationsPassOnlyWhatTheRulesAllow() throws Exception {
        Instant now = VerificationVectors.NOW;
        TestTokens keys = new TestTokens();
        X509Certificate peer = new TestPki(new MutableClock(now), "lanyard.local").leaf(TestTokens.SUBJECT).leaf();
        TokenVerifier verifier = TokenVerifier.builder().issuer(TestTokens.ISSUER).audience(TestTokens.AUDIENCE)
                .jwks(JwksSource.fixed(keys.publicJwks())).clock(Clock.fixed(now, ZoneOffset.UTC)).build();
        String header = "{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"JWT\"}";
        String claims = JSONObjectUtils.toJSONString(TestTokens.claims(peer, now).audience(TestTokens.AUDIENCE)
                .issueTime(Date.from(now)).build().toJSONObject());
        List<byte[]> seeds = List.of(
                (header + "\0" + claims).getBytes(StandardCharsets.UTF_8),
                (header.replace("}", ",\"kid\":\"es256-key\"}") + "\0" + claims).getBytes(StandardCharsets.UTF_8),
                ("{\"alg\":\"ES256\",\"kid\":\"es256-key\",\"typ\":\"JOSE\",\"zip\":\"DEF\"}\0{\"aud\":[\"x\"],"
                        + claims.substring(1)).getBytes(StandardCharsets.UTF_8),
                (header + "\0{\"exp\":1e300,\"nbf\":-1,\"iat\":null}").getBytes(StandardCharsets.UTF_8));
        ECDSASigner signer = new ECDSASigner(keys.es256);
        new Mutator(seeds, Duration.ofSeconds(3)).run(input -> {
            int split = indexOf(input, (byte) 0);
            byte[] h = split < 0 ? input : java.util.Arrays.copyOfRange(input, 0, split);
            byte[] p = split < 0 ? new byte[0] : java.util.Arrays.copyOfRange(input, split + 1, input.length);
            String signingInput = Base64URL.encode(h) + "." + Base64URL.encode(p);
            String token;
            try {
                token = signingInput + "." + signer.sign(new JWSHeader(JWSAlgorithm.ES256),
                        signingInput.getBytes(StandardCharsets.US_ASCII));
            } catch (com.nimbusds.jose.JOSEException e) {
                throw new IllegalStateException(e);
            }
            try {
                verifier.verify(token, peer);
                checkAllowed(h, p, peer, now);
            } catch (TokenRejectedException refused) {
                // refused: fine
            }
        });
    }

    /** What an accepted token must be, checked independently of the verifier's code. */
    private static void checkAllowed(byte[] header, byte[] payload, X509Certificate peer, Instant now) {
        try {
            Map<String, Object> h = JSONObjectUtils.parse(StandardCharsets.UTF_8.newDecoder()
                    .decode(java.nio.ByteBuffer.wrap(header)).toString());
            Map<String, Object> c = JSONObjectUtils.parse(StandardCharsets.UTF_8.newDecoder()
                    .decode(java.nio.ByteBuffer.wrap(payload)).toString());
            assertThat(h).containsEntry("alg", "ES256").containsEntry("typ", "JWT").containsEntry("kid", "es256-key")
                    .doesNotContainKeys("zip", "crit");
            Object aud = c.get("aud") instanceof List<?> list && list.size() == 1 ? list.get(0) : c.get("aud");
            assertThat(c).containsEntry("iss", TestTokens.ISSUER).containsKeys("nbf", "iat", "exp", "sub", "jti");
            assertThat(aud).isEqualTo(TestTokens.AUDIENCE);
            long s = now.getEpochSecond();
            assertThat(((Number) c.get("exp")).doubleValue()).isGreaterThan(s - 30);
            assertThat(((Number) c.get("nbf")).doubleValue()).isLessThanOrEqualTo(s + 30);
            assertThat(((Number) c.get("iat")).doubleValue()).isLessThanOrEqualTo(s + 30);
            assertThat(((Map<?, ?>) c.get("cnf")).get("x5t#S256")).isEqualTo(Thumbprint.x5tS256(peer));
        } catch (Exception e) {
            fail("accepted a token that breaks the rules: " + new String(header, StandardCharsets.UTF_8) + " "
                    + new String(payload, StandardCharsets.UTF_8), e);
        }
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }
}
