package dev.lanyard.publication;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The publication port over real sockets: HTTP semantics, size bounds, connection caps, timeouts. */
class HttpPublisherTest {

    static final byte[] BUNDLE = "{\"keys\":[]}".getBytes(StandardCharsets.UTF_8);

    final ExecutorService documents = Executors.newFixedThreadPool(2);
    final List<RawHttp> sockets = new ArrayList<>();
    HttpPublisher publisher;

    HttpPublisher start(HttpLimits limits) throws IOException {
        publisher = new HttpPublisher("127.0.0.1", 0, limits, documents, java.time.Clock.systemUTC())
                .route("/bundle", () -> new HttpPublisher.Document("application/json", BUNDLE, Duration.ofMinutes(5)))
                .route("/healthz", () -> new HttpPublisher.Document("text/plain",
                        "ok\n".getBytes(StandardCharsets.US_ASCII), Duration.ZERO))
                .routePrefix("/crl/", id -> id.equals("k1")
                        ? Optional.of(new HttpPublisher.Document("application/pkix-crl", new byte[] {1, 2}, Duration.ofMinutes(1)))
                        : Optional.empty())
                .application("/console", request -> new WebApp.Response(200, "text/plain",
                        ("read " + request.body().length + " bytes\n").getBytes(StandardCharsets.US_ASCII), List.of()));
        publisher.start();
        return publisher;
    }

    RawHttp connect(String source) throws IOException {
        RawHttp socket = RawHttp.connect(source, publisher.port());
        sockets.add(socket);
        return socket;
    }

    @AfterEach
    void stop() throws IOException {
        for (RawHttp socket : sockets) {
            socket.close();
        }
        if (publisher != null) {
            publisher.close();
        }
        documents.shutdownNow();
    }

    @Test
    void etagCacheControlConditionalGetHeadAndRefusals() throws Exception {
        start(HttpLimits.defaults());
        RawHttp client = connect("127.0.0.1");

        RawHttp.Response bundle = client.get("/bundle");
        assertThat(bundle.status()).isEqualTo(200);
        assertThat(bundle.body()).isEqualTo(BUNDLE);
        assertThat(bundle.header("Content-Type")).isEqualTo("application/json");
        assertThat(bundle.header("Cache-Control")).isEqualTo("max-age=300");
        assertThat(bundle.header("X-Content-Type-Options")).isEqualTo("nosniff");
        String etag = bundle.header("ETag");
        assertThat(etag).matches("\"[0-9a-f]{32}\"");

        client.send("GET /bundle HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n");
        RawHttp.Response notModified = client.read(false);
        assertThat(notModified.status()).isEqualTo(304);
        assertThat(notModified.header("ETag")).isEqualTo(etag);
        assertThat(notModified.header("Cache-Control")).isEqualTo("max-age=300");

        client.send("HEAD /bundle HTTP/1.1\r\nHost: x\r\n\r\n");
        RawHttp.Response head = client.read(true);
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.header("Content-Length")).isEqualTo(Integer.toString(BUNDLE.length));

        assertThat(client.get("/crl/k1").status()).isEqualTo(200);
        assertThat(client.get("/crl/%6B1?refresh=1").status()).as("decoded path, query ignored").isEqualTo(200);
        assertThat(client.get("http://localhost/bundle").status()).as("absolute form").isEqualTo(200);
        assertThat(client.get("/crl/nope").status()).isEqualTo(404);
        assertThat(client.get("/nothing").status()).isEqualTo(404);

        client.send("DELETE /bundle HTTP/1.1\r\nHost: x\r\n\r\n");
        RawHttp.Response delete = client.read(false);
        assertThat(delete.status()).isEqualTo(405);
        assertThat(delete.header("Allow")).isEqualTo("GET, HEAD");
        // all of the above on one kept-alive connection
        assertThat(client.get("/healthz").text()).isEqualTo("ok\n");
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        start(HttpLimits.defaults());
        RawHttp client = connect("127.0.0.1");
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /bundle HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /crl/k1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(client.read(false).text()).isEqualTo("ok\n");
        assertThat(client.read(false).body()).isEqualTo(BUNDLE);
        assertThat(client.read(false).body()).containsExactly(1, 2);
    }

    @Test
    void sizeBoundsAndBodiesAreRefusedAndTheConnectionClosed() throws Exception {
        start(new HttpLimits(Duration.ofSeconds(5), Duration.ofSeconds(30), 100, 100, 256, 1024));

        RawHttp longLine = connect("127.0.0.1").send("GET /" + "a".repeat(300) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(longLine.read(false).status()).isEqualTo(414);
        assertThat(longLine.closedWithin(Duration.ofSeconds(5))).isTrue();

        RawHttp bigHeaders = connect("127.0.0.1").send("GET /bundle HTTP/1.1\r\nHost: x\r\nX-Big: "
                + "b".repeat(2000) + "\r\n\r\n");
        assertThat(bigHeaders.read(false).status()).isEqualTo(431);
        assertThat(bigHeaders.closedWithin(Duration.ofSeconds(5))).isTrue();

        RawHttp manyHeaders = connect("127.0.0.1").send("GET /bundle HTTP/1.1\r\nHost: x\r\n"
                + "X-H: 0123456789\r\n".repeat(100) + "\r\n");
        assertThat(manyHeaders.read(false).status()).isEqualTo(431);

        RawHttp getWithBody = connect("127.0.0.1").send("GET /bundle HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        RawHttp.Response tooLarge = getWithBody.read(false);
        assertThat(tooLarge.status()).isEqualTo(413);
        assertThat(tooLarge.header("Connection")).isEqualTo("close");
        assertThat(getWithBody.closedWithin(Duration.ofSeconds(5))).isTrue();

        RawHttp chunked = connect("127.0.0.1").send("GET /bundle HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n");
        assertThat(chunked.read(false).status()).isEqualTo(413);
        assertThat(chunked.closedWithin(Duration.ofSeconds(5))).isTrue();

        RawHttp post = connect("127.0.0.1").send("POST /bundle HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
        RawHttp.Response notAllowed = post.read(false);
        assertThat(notAllowed.status()).isEqualTo(405);
        assertThat(notAllowed.header("Allow")).isEqualTo("GET, HEAD");
        assertThat(post.closedWithin(Duration.ofSeconds(5))).isTrue();

        RawHttp garbage = connect("127.0.0.1").send("\u0001\u0002 nonsense\r\n\r\n");
        assertThat(garbage.read(false).status()).isEqualTo(400);
        RawHttp badUri = connect("127.0.0.1").send("GET /bundle%zz HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(badUri.read(false).status()).isEqualTo(400);

        // within the bounds, still served
        assertThat(connect("127.0.0.1").get("/" + "b".repeat(0) + "bundle").status()).isEqualTo(200);
    }

    @Test
    void aClientOverThePerSourceCapIsRefusedWhileOthersAreServed() throws Exception {
        start(new HttpLimits(Duration.ofSeconds(30), Duration.ofSeconds(60), 100, 4, 4096, 8192));
        List<RawHttp> holding = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            holding.add(connect("127.0.0.2"));
        }
        awaitOpen(4);

        RawHttp fifth = connect("127.0.0.2");
        assertRefused(fifth, "127.0.0.2");
        // another source is served, and the four held connections still are too
        assertThat(connect("127.0.0.1").get("/bundle").status()).isEqualTo(200);
        assertThat(holding.get(0).get("/healthz").status()).isEqualTo(200);

        holding.get(1).close();
        awaitOpen(4); // three held from .2, one from .1
        assertThat(connect("127.0.0.2").get("/bundle").status()).isEqualTo(200);
    }

    @Test
    void aClientOverTheTotalCapIsRefused() throws Exception {
        start(new HttpLimits(Duration.ofSeconds(30), Duration.ofSeconds(60), 3, 3, 4096, 8192));
        connect("127.0.0.2");
        connect("127.0.0.3");
        connect("127.0.0.4");
        awaitOpen(3);
        RawHttp fourth = connect("127.0.0.5");
        assertThat(fourth.closedWithin(Duration.ofSeconds(5))).isTrue();
    }

    @Test
    void silentSlowAndIdleConnectionsAreCutOff() throws Exception {
        start(new HttpLimits(Duration.ofSeconds(1), Duration.ofSeconds(4), 100, 100, 4096, 8192));
        RawHttp kept = connect("127.0.0.1");
        assertThat(kept.get("/bundle").status()).isEqualTo(200);
        long start = System.nanoTime();
        RawHttp silent = connect("127.0.0.1");
        RawHttp slow = connect("127.0.0.1").send("GET /bundle HTTP/1.1\r\n");
        try {
            for (int i = 0; i < 5; i++) { // a header line every 300 ms: never idle, never done
                Thread.sleep(300);
                slow.send("X-Slow-" + i + ": y\r\n");
            }
        } catch (SocketException cutOff) {
            // expected once the header timeout passed
        }

        RawHttp.Response timedOut = slow.read(false);
        assertThat(timedOut.status()).isEqualTo(408);
        assertThat(slow.closedWithin(Duration.ofSeconds(3))).isTrue();
        assertThat(silent.closedWithin(Duration.ofSeconds(3))).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
        // a kept-alive connection waits for its next request up to the idle timeout, not the header timeout
        assertThat(kept.closedWithin(Duration.ofMillis(100))).isFalse();
        assertThat(kept.closedWithin(Duration.ofSeconds(5))).isTrue();
    }

    @Test
    void aSlowRequestBodyIsCutOffAtTheHeaderTimeoutAsSlowHeadersAre() throws Exception {
        start(new HttpLimits(Duration.ofSeconds(1), Duration.ofSeconds(4), 100, 100, 4096, 8192));
        String form = "POST /console/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Length: %d\r\n\r\n";
        RawHttp kept = connect("127.0.0.1").send(form.formatted(5) + "t=abc");
        RawHttp.Response read = kept.read(false);
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.text()).isEqualTo("read 5 bytes\n");
        // kept alive past the timeout: between requests only the idle timeout counts
        assertThat(kept.closedWithin(Duration.ofMillis(1_500))).isFalse();

        long start = System.nanoTime();
        RawHttp fresh = connect("127.0.0.1").send(form.formatted(100));
        kept.send(form.formatted(100)); // the next request's clock starts at its first byte
        for (int i = 0; i < 5; i++) { // a body byte every 300 ms: never idle, never done
            Thread.sleep(300);
            for (RawHttp slow : List.of(fresh, kept)) {
                try {
                    slow.send("a");
                } catch (SocketException cutOff) {
                    // expected once the timeout passed
                }
            }
        }

        for (RawHttp slow : List.of(fresh, kept)) {
            RawHttp.Response timedOut = slow.read(false);
            assertThat(timedOut.status()).isEqualTo(408);
            assertThat(timedOut.header("Connection")).isEqualTo("close");
            assertThat(slow.closedWithin(Duration.ofSeconds(3))).isTrue();
        }
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    }

    @Test
    void aTakenPortIsABindErrorNamingTheAddress() throws Exception {
        start(HttpLimits.defaults());
        org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> new HttpPublisher("127.0.0.1", publisher.port(), HttpLimits.defaults(), documents,
                                java.time.Clock.systemUTC()))
                .isInstanceOf(java.net.BindException.class)
                .hasMessageContaining("cannot bind HTTP to 127.0.0.1:" + publisher.port());
    }

    /** Refused: a 503 naming the cap, or (if the request was already on the wire) a reset. */
    static void assertRefused(RawHttp client, String source) throws IOException {
        try {
            client.send("GET /bundle HTTP/1.1\r\nHost: x\r\n\r\n");
            RawHttp.Response refused = client.read(false);
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.text()).contains("too many connections from " + source)
                    .contains("http.max-connections-per-source");
        } catch (SocketException reset) {
            // the server closed before reading our request: refused all the same
        }
        assertThat(client.closedWithin(Duration.ofSeconds(5))).isTrue();
    }

    void awaitOpen(int n) throws InterruptedException {
        for (int i = 0; i < 100 && publisher.openConnections() != n; i++) {
            Thread.sleep(50);
        }
        assertThat(publisher.openConnections()).isEqualTo(n);
    }
}
