package dev.lanyard.publication;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.RunningServer;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * http.max-connections and http.max-connections-per-source on a real server: each refusal is counted
 * on /metrics by the limit it was over, and logged once per source and minute, like the gRPC port's.
 */
class HttpConnectionRefusalsTest {

    @TempDir
    Path dir;
    RunningServer lanyard;
    final List<RawHttp> sockets = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (RawHttp socket : sockets) {
            socket.close();
        }
        if (lanyard != null) {
            lanyard.close();
        }
    }

    @Test
    void refusedConnectionsAreCountedByLimitAndLoggedOncePerSourceAndMinute() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("http.max-connections", "4", "http.max-connections-per-source", "2"));
        try (LogCapture logs = new LogCapture()) {
            served("127.0.0.2");
            served("127.0.0.2");
            for (int i = 0; i < 3; i++) {
                refused("127.0.0.2", "http.max-connections-per-source=2");
            }
            RawHttp scraper = served("127.0.0.3");
            served("127.0.0.4"); // the fourth and last slot
            refused("127.0.0.5", "http.max-connections=4");

            String metrics = scraper.get("/metrics").text();
            assertThat(metrics).contains("lanyard_http_refused_total{limit=\"max-connections-per-source\"} 3.0")
                    .contains("lanyard_http_refused_total{limit=\"max-connections\"} 1.0");
            assertThat(logs.lines().stream().filter(l -> l.contains("refused an HTTP connection from 127.0.0.2")))
                    .as("one line per source and minute, however many refusals").hasSize(1)
                    .allSatisfy(l -> assertThat(l).contains("http.max-connections-per-source=2"));
            assertThat(logs.lines().stream().filter(l -> l.contains("refused an HTTP connection from 127.0.0.5")))
                    .hasSize(1).allSatisfy(l -> assertThat(l).contains("http.max-connections=4"));
        }
    }

    /** A connection from {@code source}, answered (so counted open) and kept. */
    private RawHttp served(String source) throws IOException {
        RawHttp socket = connect(source);
        assertThat(socket.get("/healthz").status()).isEqualTo(200);
        return socket;
    }

    private void refused(String source, String limit) throws IOException {
        RawHttp socket = connect(source);
        try {
            socket.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
            RawHttp.Response response = socket.read(false);
            assertThat(response.status()).isEqualTo(503);
            assertThat(response.text()).contains(limit);
        } catch (SocketException reset) {
            // closed before our request was read: refused all the same
        }
        assertThat(socket.closedWithin(Duration.ofSeconds(5))).isTrue();
    }

    private RawHttp connect(String source) throws IOException {
        RawHttp socket = RawHttp.connect(source, lanyard.server().httpPort());
        sockets.add(socket);
        return socket;
    }
}
