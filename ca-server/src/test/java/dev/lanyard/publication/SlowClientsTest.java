package dev.lanyard.publication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.RunningServer;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real server with its default limits (http.header-timeout=10s): 50 slow or idle clients on the
 * publication port neither stop JWKS, bundle, CRL and health answers for another client nor outlive
 * the header timeout.
 */
class SlowClientsTest {

    static final Duration HEADER_TIMEOUT = Duration.ofSeconds(10);
    static final Duration ANSWER_BOUND = Duration.ofSeconds(3);

    @TempDir
    Path dir;
    RunningServer lanyard;
    final List<RawHttp> slow = new ArrayList<>();
    final ScheduledExecutorService trickle = Executors.newSingleThreadScheduledExecutor();
    final ExecutorService watchers = Executors.newFixedThreadPool(50);

    @AfterEach
    void stop() throws IOException {
        trickle.shutdownNow();
        watchers.shutdownNow();
        for (RawHttp socket : slow) {
            socket.close();
        }
        if (lanyard != null) {
            lanyard.close();
        }
    }

    @Test
    void fiftySlowAndIdleClientsNeitherStopPublicationNorOutliveTheHeaderTimeout() throws Exception {
        lanyard = RunningServer.start(dir);
        int port = lanyard.server().httpPort();
        long opened = System.nanoTime();
        for (int i = 0; i < 50; i++) {
            RawHttp client = RawHttp.connect("127.0.0.2", port);
            if (i % 2 == 0) { // half trickle a request head, half connect and send nothing
                client.send("GET /bundle HTTP/1.1\r\nHost: localhost\r\n");
            }
            slow.add(client);
        }
        trickle.scheduleAtFixedRate(() -> {
            for (int i = 0; i < slow.size(); i += 2) {
                try {
                    slow.get(i).send("X-Slow: still typing\r\n"); // every 2 s: never idle, never done
                } catch (IOException cutOff) {
                    // expected after the header timeout
                }
            }
        }, 2, 2, TimeUnit.SECONDS);
        List<Future<Duration>> cutOffAfter = new ArrayList<>();
        for (RawHttp client : slow) {
            cutOffAfter.add(watchers.submit(() -> client.closedWithin(Duration.ofSeconds(30))
                    ? Duration.ofNanos(System.nanoTime() - opened) : Duration.ofDays(1)));
        }

        // Another client, from another address, while the 50 hold their connections.
        for (int round = 0; round < 3; round++) {
            for (String path : List.of("/.well-known/jwks.json", "/bundle", "/crl", "/healthz")) {
                long start = System.nanoTime();
                try (RawHttp client = RawHttp.connect("127.0.0.1", port)) {
                    client.socket.setSoTimeout((int) ANSWER_BOUND.toMillis());
                    assertThat(client.get(path).status()).as(path).isEqualTo(200);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as(path).isLessThan(ANSWER_BOUND);
            }
            Thread.sleep(1_500);
        }

        for (Future<Duration> cutOff : cutOffAfter) {
            assertThat(cutOff.get(40, TimeUnit.SECONDS))
                    .isGreaterThanOrEqualTo(HEADER_TIMEOUT.minusMillis(500))
                    .isLessThan(HEADER_TIMEOUT.plusSeconds(5));
        }
        // and served again at once from the address they came from
        try (RawHttp after = RawHttp.connect("127.0.0.2", port)) {
            assertThat(after.get("/healthz").status()).isEqualTo(200);
        } catch (SocketException e) {
            throw new AssertionError("the slow clients' address is still refused after they were cut off", e);
        }
    }
}
