package dev.lanyard.client.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.lanyard.testing.MutableClock;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The cache rules against a real HTTP server on loopback that counts what it is asked. */
class HttpJwksSourceTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T12:00:00Z"));
    private final HttpClient http = HttpClient.newHttpClient();
    private final JwksServer server = new JwksServer();
    private ECKey first;
    private ECKey second;

    /** Serves a JWKS with an ETag and Cache-Control, answers 304 to a matching If-None-Match. */
    private static final class JwksServer {
        final AtomicInteger requests = new AtomicInteger();
        final List<String> ifNoneMatch = Collections.synchronizedList(new ArrayList<>());
        volatile String body = "{\"keys\":[]}";
        volatile String cacheControl = "max-age=60";
        volatile int failWith = 0;
        /** Send the headers and half the body, then nothing until {@link #release} (a stalled peer). */
        volatile boolean stallBody = false;
        final CountDownLatch release = new CountDownLatch(1);
        HttpServer http;

        void start() throws IOException {
            http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            http.createContext("/.well-known/jwks.json", this::handle);
            http.start();
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + http.getAddress().getPort() + "/.well-known/jwks.json");
        }

        void publish(JWK... keys) {
            body = new JWKSet(List.of(keys)).toString();
        }

        private void handle(HttpExchange exchange) throws IOException {
            requests.incrementAndGet();
            String conditional = exchange.getRequestHeaders().getFirst("If-None-Match");
            ifNoneMatch.add(conditional);
            if (failWith != 0) {
                exchange.sendResponseHeaders(failWith, -1);
                exchange.close();
                return;
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            String etag = "\"" + Integer.toHexString(body.hashCode()) + "\"";
            exchange.getResponseHeaders().set("ETag", etag);
            if (cacheControl != null) {
                exchange.getResponseHeaders().set("Cache-Control", cacheControl);
            }
            if (etag.equals(conditional)) {
                exchange.sendResponseHeaders(304, -1);
                exchange.close();
                return;
            }
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                if (stallBody) {
                    out.write(bytes, 0, bytes.length / 2);
                    out.flush();
                    awaitRelease();
                    out.write(bytes, bytes.length / 2, bytes.length - bytes.length / 2);
                } else {
                    out.write(bytes);
                }
            }
        }

        private void awaitRelease() {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @BeforeEach
    void start() throws Exception {
        first = new ECKeyGenerator(Curve.P_256).keyID("first").generate();
        second = new ECKeyGenerator(Curve.P_256).keyID("second").generate();
        server.publish(first.toPublicJWK());
        server.start();
    }

    @AfterEach
    void stop() {
        server.release.countDown();
        server.http.stop(0);
    }

    private HttpJwksSource source() {
        return HttpJwksSource.allowingPlainHttp(server.uri(), http, clock);
    }

    /**
     * A refreshed document that names a kid twice is refused whole (which key a token meant would be a
     * guess), and the keys held before stay in use, as in the Go and Rust verifiers.
     */
    @Test
    void refusesADocumentNamingAKidTwiceAndKeepsTheKeysHeld() throws Exception {
        server.publish(first.toPublicJWK());
        HttpJwksSource source = source();
        assertThat(source.key("first")).contains(first.toPublicJWK());
        ECKey otherSecond = new ECKeyGenerator(Curve.P_256).keyID("second").generate();
        server.publish(second.toPublicJWK(), otherSecond.toPublicJWK());
        clock.advance(Duration.ofSeconds(60));
        assertThat(source.key("second")).isEmpty();
        assertThat(source.key("first")).contains(first.toPublicJWK());
        assertThat(server.requests).hasValue(2);

        assertThatThrownBy(() -> JwksSource.fixed(new JWKSet(List.of(second.toPublicJWK(), otherSecond.toPublicJWK()))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the key set names kid \"second\" twice");
    }

    /** Whoever answers a plain-HTTP fetch picks the keys, and so can forge any token. */
    @Test
    void refusesPlainHttpUnlessAllowed() {
        assertThatThrownBy(() -> new HttpJwksSource(server.uri(), http, clock))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("is plain http: anyone on the path could substitute the keys")
                .hasMessageContaining("HttpJwksSource.allowingPlainHttp");
        assertThatThrownBy(() -> TokenVerifier.builder().clock(clock).jwksUri(server.uri(), http))
                .hasMessageContaining("is plain http");
        assertThat(HttpJwksSource.allowingPlainHttp(server.uri(), http, clock).uri()).isEqualTo(server.uri());
        assertThat(new HttpJwksSource(URI.create("https://lanyard.test/.well-known/jwks.json"), http, clock))
                .isNotNull();
    }

    @Test
    void servesFromCacheForMaxAgeThenRevalidatesWithTheEtag() throws Exception {
        HttpJwksSource source = source();

        assertThat(source.key("first")).contains(first.toPublicJWK());
        clock.advance(Duration.ofSeconds(59));
        assertThat(source.key("first")).isPresent();
        assertThat(server.requests).hasValue(1);

        clock.advance(Duration.ofSeconds(1));
        assertThat(source.key("first")).contains(first.toPublicJWK());
        assertThat(server.requests).hasValue(2);
        assertThat(server.ifNoneMatch.get(0)).isNull();
        assertThat(server.ifNoneMatch.get(1)).isEqualTo("\"" + Integer.toHexString(server.body.hashCode()) + "\"");

        // The 304 restarted the freshness period.
        clock.advance(Duration.ofSeconds(59));
        assertThat(source.key("first")).isPresent();
        assertThat(server.requests).hasValue(2);
    }

    /**
     * Lanyard publishes a new key one publish lead (twice the refresh hint, its max-age) before it
     * signs: a max-age below ten seconds is honoured, or a verifier could meet a token of a key it has
     * not fetched and not be allowed to fetch it yet.
     */
    @Test
    void honoursAMaxAgeBelowTenSeconds() throws Exception {
        server.cacheControl = "public, max-age=1";
        HttpJwksSource source = source();

        source.key("first");
        server.publish(first.toPublicJWK(), second.toPublicJWK()); // prepared, not signing yet
        clock.advance(Duration.ofSeconds(1));
        source.key("first");
        assertThat(server.requests).hasValue(2);
        assertThat(source.key("second")).contains(second.toPublicJWK());
        assertThat(server.requests).hasValue(2);
    }

    @Test
    void boundsMaxAgeAboveAtOneHour() throws Exception {
        server.cacheControl = "max-age=86400";
        HttpJwksSource source = source();

        source.key("first");
        clock.advance(Duration.ofMinutes(59));
        source.key("first");
        assertThat(server.requests).hasValue(1);
        clock.advance(Duration.ofMinutes(1));
        source.key("first");
        assertThat(server.requests).hasValue(2);
    }

    @Test
    void keepsACopyTenSecondsWhenTheServerSaysNothing() throws Exception {
        for (String cacheControl : new String[] {null, "max-age=soon"}) {
            server.cacheControl = cacheControl;
            server.requests.set(0);
            HttpJwksSource source = source();
            source.key("first");
            clock.advance(Duration.ofSeconds(9));
            source.key("first");
            assertThat(server.requests).as(String.valueOf(cacheControl)).hasValue(1);
            clock.advance(Duration.ofSeconds(1));
            source.key("first");
            assertThat(server.requests).as(String.valueOf(cacheControl)).hasValue(2);
        }
    }

    @Test
    void refetchesAtMostOncePerSecondWhenTheServerForbidsCaching() throws Exception {
        for (String cacheControl : new String[] {"no-store", "no-cache, max-age=600"}) {
            server.cacheControl = cacheControl;
            server.requests.set(0);
            HttpJwksSource source = source();
            for (int i = 0; i < 10; i++) {
                source.key("first");
                clock.advance(Duration.ofMillis(99));
            }
            assertThat(server.requests).as(cacheControl).hasValue(1);
            clock.advance(Duration.ofMillis(10));
            source.key("first");
            assertThat(server.requests).as(cacheControl).hasValue(2);
        }
    }

    @Test
    void refetchesForAnUnknownKidAtMostOncePerTenSeconds() throws Exception {
        HttpJwksSource source = source();
        source.key("first");

        // Just fetched: an unknown kid does not cause another request yet.
        assertThat(source.key("second")).isEmpty();
        assertThat(server.requests).hasValue(1);

        // The server publishes a new key; after the minimum interval one lookup finds it.
        server.publish(first.toPublicJWK(), second.toPublicJWK());
        clock.advance(Duration.ofSeconds(10));
        assertThat(source.key("second")).contains(second.toPublicJWK());
        assertThat(server.requests).hasValue(2);

        // A flood of made-up kids costs at most one request per interval.
        for (int i = 0; i < 50; i++) {
            assertThat(source.key("made-up-" + i)).isEmpty();
        }
        assertThat(server.requests).hasValue(2);
        clock.advance(Duration.ofSeconds(10));
        for (int i = 0; i < 50; i++) {
            assertThat(source.key("made-up-" + i)).isEmpty();
        }
        assertThat(server.requests).hasValue(3);
    }

    @Test
    void keepsServingTheLastGoodKeySetWhenARefetchFails() throws Exception {
        HttpJwksSource source = source();
        source.key("first");

        server.failWith = 500;
        clock.advance(Duration.ofSeconds(60));
        assertThat(source.key("first")).contains(first.toPublicJWK());
        assertThat(server.requests).hasValue(2);

        // A failed refresh is not retried on every lookup, only after the minimum interval.
        clock.advance(Duration.ofSeconds(5));
        assertThat(source.key("first")).isPresent();
        assertThat(server.requests).hasValue(2);
        clock.advance(Duration.ofSeconds(5));
        assertThat(source.key("first")).isPresent();
        assertThat(server.requests).hasValue(3);

        // Lanyard is back: the next refresh replaces the stale copy.
        server.failWith = 0;
        server.publish(second.toPublicJWK());
        clock.advance(Duration.ofSeconds(10));
        assertThat(source.key("second")).isPresent();
        assertThat(source.key("first")).isEmpty();
    }

    @Test
    void keepsServingTheLastGoodKeySetWhenTheServerIsGone() throws Exception {
        HttpJwksSource source = source();
        source.key("first");
        server.http.stop(0);

        clock.advance(Duration.ofMinutes(5));
        assertThat(source.key("first")).contains(first.toPublicJWK());
    }

    /**
     * A server that sends its headers and then stalls its body fails the fetch within the request
     * timeout, as the Go and Rust caches' does: the JDK's own request timeout ends with the headers,
     * and a fetch that never ends would hold every token naming a new kid (and every token before
     * the first fetch) for ever. The failed fetch counts for the rate limit like any other.
     */
    @Test
    void aFetchWhoseBodyStallsFailsWithinTheRequestTimeout() {
        server.stallBody = true;
        HttpJwksSource source = source();

        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThatThrownBy(() -> source.key("first"))
                .isInstanceOf(JwksUnavailableException.class)
                .hasMessage("no JWKS could be fetched from " + server.uri() + ": " + server.uri()
                        + " did not answer in full within 5000 ms"));
        assertTimeoutPreemptively(Duration.ofSeconds(1), () -> assertThatThrownBy(() -> source.key("second"))
                .isInstanceOf(JwksUnavailableException.class));
        assertThat(server.requests).hasValue(1);
    }

    @Test
    void saysWhyWhenNoKeySetWasEverFetchedAndDoesNotHammerTheServer() {
        server.failWith = 503;
        HttpJwksSource source = source();

        assertThatThrownBy(() -> source.key("first"))
                .isInstanceOf(JwksUnavailableException.class)
                .hasMessage("no JWKS could be fetched from " + server.uri() + ": HTTP 503 from " + server.uri());
        assertThatThrownBy(() -> source.key("first")).isInstanceOf(JwksUnavailableException.class);
        assertThat(server.requests).hasValue(1);
    }

    @Test
    void refusesADocumentThatIsNotAPublicJwks() throws Exception {
        server.body = new JWKSet(first).toString(false);
        assertThatThrownBy(() -> source().key("first"))
                .hasMessage("no JWKS could be fetched from " + server.uri() + ": the JWKS at " + server.uri()
                        + " holds private key material; refusing it");

        server.body = "<html>not json</html>";
        clock.advance(Duration.ofSeconds(10));
        assertThatThrownBy(() -> source().key("first"))
                .hasMessage("no JWKS could be fetched from " + server.uri() + ": the document at " + server.uri()
                        + " is not a JWKS");

        server.body = "{\"keys\":[]," + "\"pad\":\"" + "x".repeat(HttpJwksSource.MAX_BYTES) + "\"}";
        assertThatThrownBy(() -> source().key("first"))
                .hasMessage("no JWKS could be fetched from " + server.uri() + ": the JWKS at " + server.uri()
                        + " is larger than 1048576 bytes");
    }

    /**
     * A refresh answered with JSON that is not a key set ({@code null}, {@code {}}, an error body) is
     * a failed refresh: the keys held stay, and no lookup fails with anything but a refusal (Nimbus
     * meets {@code null} with a NullPointerException, which escaped the verifier), as in the Go and
     * Rust caches.
     */
    @Test
    void aRefreshAnsweredWithJsonThatIsNotAKeySetKeepsTheKeysHeld() throws Exception {
        HttpJwksSource source = source();
        assertThat(source.key("first")).contains(first.toPublicJWK());
        for (String body : List.of("null", "{}", "{\"error\":\"upstream unavailable\"}", "{\"keys\":null}")) {
            server.body = body;
            clock.advance(Duration.ofSeconds(60));
            assertThat(source.key("first")).as(body).contains(first.toPublicJWK());
        }
        assertThat(server.requests).hasValue(5);

        server.body = "null";
        assertThatThrownBy(() -> source().key("first"))
                .isInstanceOf(JwksUnavailableException.class)
                .hasMessage("no JWKS could be fetched from " + server.uri() + ": the document at " + server.uri()
                        + " is not a JWKS");
    }

    @Test
    void refusesABadConfiguration() {
        assertThatThrownBy(() -> new HttpJwksSource(URI.create("ftp://127.0.0.1/jwks.json"), http, clock))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the JWKS URI must be https, not ftp://127.0.0.1/jwks.json");
        assertThatThrownBy(() -> new HttpJwksSource(URI.create("https://lanyard.test/jwks.json"), http, clock,
                Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the request timeout must be positive, not PT0S");
    }

    @Test
    void plugsIntoAVerifier() throws Exception {
        TokenVerifier verifier = TokenVerifier.builder().issuer("https://lanyard.test").audience("payments")
                .clock(clock).jwksUri(URI.create("https://lanyard.test/.well-known/jwks.json"), http).build();

        assertThat(verifier).isNotNull();
    }
}
