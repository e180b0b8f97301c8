package dev.lanyard.client.vectors;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.util.JSONObjectUtils;
import dev.lanyard.client.token.JwksSource;
import dev.lanyard.client.token.TokenVerifier;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Cost of verifying one Lanyard token with the JWKS cached, on one thread: the first good case of
 * the shared vectors (ES256, minted by Lanyard), as the Go and Rust benchmarks measure it. From
 * {@code clients/java} after {@code mvn test-compile}:
 * <pre>
 * mvn -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt
 * java -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *     dev.lanyard.client.vectors.VerifyBenchmark 10 ../../testdata/vectors/verification.json
 * </pre>
 */
public final class VerifyBenchmark {

    private VerifyBenchmark() {
    }

    @SuppressWarnings("unchecked")
    public static void main(String[] args) throws Exception {
        Map<String, Object> doc = JSONObjectUtils.parse(Files.readString(Path.of(args.length > 1 ? args[1]
                : "testdata/vectors/verification.json")));
        Map<String, Object> c = ((List<Map<String, Object>>) doc.get("cases")).get(0);
        TokenVerifier verifier = TokenVerifier.builder().issuer((String) doc.get("issuer"))
                .audience((String) c.get("audience"))
                .jwks(JwksSource.fixed(JWKSet.parse((Map<String, Object>) doc.get("jwks"))))
                .clock(Clock.fixed(Instant.ofEpochSecond(((Number) c.get("now")).longValue()), ZoneOffset.UTC))
                .build();
        String token = (String) c.get("token");
        X509Certificate peer = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(
                new ByteArrayInputStream(Base64.getDecoder().decode((String) c.get("peer_certificate"))));
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 5;
        run(verifier, token, peer, 3); // warm-up: JIT
        long[] result = run(verifier, token, peer, seconds);
        System.out.printf("Java TokenVerifier (Nimbus), ES256, cached JWKS: %,d verifications in %d s = %,d ns/op%n",
                result[0], seconds, result[1] / result[0]);
    }

    private static long[] run(TokenVerifier verifier, String token, X509Certificate peer, long seconds) throws Exception {
        long start = System.nanoTime();
        long deadline = start + seconds * 1_000_000_000L;
        long n = 0;
        while (System.nanoTime() < deadline) {
            verifier.verify(token, peer);
            n++;
        }
        return new long[] {n, System.nanoTime() - start};
    }
}
