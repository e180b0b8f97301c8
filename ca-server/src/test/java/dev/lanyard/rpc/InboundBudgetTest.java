package dev.lanyard.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.RawHttp2;
import dev.lanyard.testing.RunningServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests sent as a client that wants to hold the server's memory would: over real TLS, raw HTTP/2
 * frames, each message declared whole but sent without its last bytes. gRPC keeps such a message's
 * bytes until it is whole; the budgets bound them, for methods open without a certificate by source
 * address, for the others by SPIFFE ID.
 */
class InboundBudgetTest {

    static final String BUNDLE = "/lanyard.v1.TrustBundleService/GetTrustBundle";
    static final String RENEW = "/lanyard.v1.CertificateService/RenewCertificate";
    static final String ANONYMOUS = "lanyard_grpc_anonymous_inbound_bytes";
    static final String AUTHENTICATED = "lanyard_grpc_inbound_bytes";
    static final int MESSAGE = 60_000; // declared size of each message: under the per-message bound
    static final int PART = 50_000; // what is sent of it before the test decides

    @TempDir
    Path dir;
    RunningServer lanyard;

    void startWithAnonymousBounds() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("grpc.max-anonymous-message-bytes", "65536",
                "grpc.max-anonymous-inbound-bytes-per-source", "131072", "grpc.max-anonymous-inbound-bytes", "196608"));
    }

    @AfterEach
    void stop() {
        if (lanyard != null) {
            lanyard.close();
        }
    }

    @Test
    void partlySentMessagesHoldAtMostTheBudgetPerSourceAndInAll() throws Exception {
        startWithAnonymousBounds();
        java.util.List<String> grpcWarnings = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Logger julRoot = java.util.logging.Logger.getLogger("");
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord record) {
                if (record.getLoggerName() != null && record.getLoggerName().startsWith("io.grpc")) {
                    grpcWarnings.add(record.getLoggerName() + " " + record.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        julRoot.addHandler(capture);
        try (LogCapture logs = new LogCapture(); RawHttp2 a = RawHttp2.connect(lanyard.server(), "127.0.0.1"); RawHttp2 b = RawHttp2.connect(lanyard.server(), "127.0.0.2")) {
            a.startMessage(BUNDLE, 1, MESSAGE, PART);
            a.startMessage(BUNDLE, 3, MESSAGE, PART);
            awaitHeld(ANONYMOUS, 2 * PART);
            a.startMessage(BUNDLE, 5, MESSAGE, PART); // 150,000 bytes held from one address: over 131,072
            assertThat(a.outcome(5)).isEqualTo("refused");

            a.finishMessage(1, MESSAGE - PART); // a whole message is answered, and frees what it held
            assertThat(a.outcome(1)).isEqualTo("served");
            a.startMessage(BUNDLE, 7, MESSAGE, PART);
            a.finishMessage(7, MESSAGE - PART);
            assertThat(a.outcome(7)).isEqualTo("served");
            awaitHeld(ANONYMOUS, PART); // stream 3's

            b.startMessage(BUNDLE, 1, MESSAGE, PART); // another address: 100,000 held in all now
            b.startMessage(BUNDLE, 3, MESSAGE, PART); // 150,000 ...
            awaitHeld(ANONYMOUS, 3 * PART);
            a.startMessage(BUNDLE, 9, MESSAGE, PART); // ... 200,000: over 196,608 in all
            assertThat(a.outcome(9)).isEqualTo("refused");
            b.finishMessage(1, MESSAGE - PART);
            assertThat(b.outcome(1)).isEqualTo("served");

            String metrics = scrape();
            assertThat(metrics).contains("lanyard_grpc_refused_total{limit=\"max-anonymous-inbound-bytes-per-source\"} 1.0")
                    .contains("lanyard_grpc_refused_total{limit=\"max-anonymous-inbound-bytes\"} 1.0");
            assertThat(logs.lines()).filteredOn(l -> l.contains("refused a request to lanyard.v1.TrustBundleService"))
                    .hasSize(2).anySatisfy(l -> assertThat(l).contains("from 127.0.0.1")
                            .contains("grpc.max-anonymous-inbound-bytes-per-source=131072"));
            assertThat(grpcWarnings).as("grpc-java's own line per refused message (java.util.logging) is not logged")
                    .isEmpty();
        } finally {
            julRoot.removeHandler(capture);
        }
    }

    @Test
    void aMessageOverTheAnonymousBoundIsRefusedBeforeItIsWhole() throws Exception {
        startWithAnonymousBounds();
        try (RawHttp2 a = RawHttp2.connect(lanyard.server(), "127.0.0.1")) {
            a.startMessage(BUNDLE, 1, 1_000_000, 70_000); // under grpc.max-message-bytes, over 65,536
            assertThat(a.outcome(1)).isEqualTo("refused");
            a.startMessage(BUNDLE, 3, MESSAGE, PART);
            a.finishMessage(3, MESSAGE - PART);
            assertThat(a.outcome(3)).as("the refused message holds nothing").isEqualTo("served");
        }
        assertThat(scrape()).contains("lanyard_grpc_refused_total{limit=\"max-anonymous-message-bytes\"} 1.0");
    }

    @Test
    void partlySentMessagesHoldAtMostTheBudgetPerIdentityAndInAll() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("grpc.max-message-bytes", "65536",
                "grpc.max-inbound-bytes-per-identity", "131072", "grpc.max-inbound-bytes", "196608"));
        String greedy = "spiffe://lanyard.local/ns/a/sa/greedy";
        String other = "spiffe://lanyard.local/ns/a/sa/other";
        lanyard.register(greedy);
        lanyard.register(other);
        Credential greedyCredential = lanyard.bootstrap(greedy);
        Credential otherCredential = lanyard.bootstrap(other);
        try (LogCapture logs = new LogCapture();
                RawHttp2 a = RawHttp2.connect(lanyard.server(), "127.0.0.1", greedyCredential);
                RawHttp2 a2 = RawHttp2.connect(lanyard.server(), "127.0.0.2", greedyCredential);
                RawHttp2 b = RawHttp2.connect(lanyard.server(), "127.0.0.3", otherCredential)) {
            a.startMessage(RENEW, 1, MESSAGE, PART);
            a2.startMessage(RENEW, 1, MESSAGE, PART); // another connection, from another address: the same identity
            awaitHeld(AUTHENTICATED, 2 * PART);
            a.startMessage(RENEW, 3, MESSAGE, PART); // 150,000 bytes held for one SPIFFE ID: over 131,072
            assertThat(a.outcome(3)).isEqualTo("refused");
            awaitHeld(AUTHENTICATED, 2 * PART); // the refused stream holds nothing

            b.startMessage(RENEW, 1, MESSAGE, PART); // another identity is served meanwhile ...
            awaitHeld(AUTHENTICATED, 3 * PART);
            lanyard.renew(otherCredential); // ... also a whole call through a gRPC client
            b.startMessage(RENEW, 3, MESSAGE, PART); // ... but 200,000 in all: over 196,608
            assertThat(b.outcome(3)).isEqualTo("refused");

            a.finishMessage(1, MESSAGE - PART); // a whole message frees what it held (the request is no CSR)
            assertThat(a.outcome(1)).isEqualTo("refused");
            awaitHeld(AUTHENTICATED, 2 * PART);
            a2.reset(1); // so does a cancelled call ...
            awaitHeld(AUTHENTICATED, PART);
            b.close(); // ... and a dropped connection
            awaitHeld(AUTHENTICATED, 0);
            a.startMessage(RENEW, 5, MESSAGE, PART);
            a2.startMessage(RENEW, 3, MESSAGE, PART);
            awaitHeld(AUTHENTICATED, 2 * PART); // the bound is the greedy identity's again

            String metrics = scrape();
            assertThat(metrics).contains("lanyard_grpc_refused_total{limit=\"max-inbound-bytes-per-identity\"} 1.0")
                    .contains("lanyard_grpc_refused_total{limit=\"max-inbound-bytes\"} 1.0");
            assertThat(logs.lines()).filteredOn(l -> l.contains("refused a request to lanyard.v1.CertificateService"))
                    .hasSize(2).anySatisfy(l -> assertThat(l).contains("from " + greedy)
                            .contains("grpc.max-inbound-bytes-per-identity=131072"));
        }
        awaitHeld(AUTHENTICATED, 0);
    }

    /** Waits until the messages still arriving hold {@code bytes} (the server has read what was sent). */
    private void awaitHeld(String gauge, long bytes) throws Exception {
        String series = gauge + " " + (double) bytes;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!scrape().lines().anyMatch(series::equals)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + series + " in /metrics");
            }
            Thread.sleep(20);
        }
    }

    private String scrape() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics"))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }
}
