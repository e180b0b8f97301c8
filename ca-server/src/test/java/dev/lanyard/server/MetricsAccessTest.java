package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.ThisHost;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * http.metrics: who may read /metrics, asked over real HTTP from this host's loopback address and from
 * one of its other addresses (the server binds 0.0.0.0, so both reach it).
 */
class MetricsAccessTest {

    @TempDir
    Path dir;

    @Test
    void loopbackServesThisHostOnlyAndAnswersOthersAsIfThereWereNoMetrics() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir, onAllAddresses("loopback"))) {
            int port = lanyard.server().httpPort();
            String outside = ThisHost.nonLoopbackAddress();

            assertThat(get("127.0.0.1", port, "/metrics").statusCode()).isEqualTo(200);
            Answer refused = get(outside, port, "/metrics");
            assertThat(refused.statusCode()).isEqualTo(404);
            assertThat(refused.body()).isEqualTo(get(outside, port, "/no-such-page").body()).isEqualTo("not found\n");
            // another spelling of the same path is the same route, refused the same way
            assertThat(get(outside, port, "/%6Detrics").statusCode()).isEqualTo(404);
            assertThat(get(outside, port, "http://" + outside + ":" + port + "/metrics").statusCode()).isEqualTo(404);
            // the other documents are still public
            assertThat(get(outside, port, "/bundle").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void offServesNobody() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir, onAllAddresses("off"))) {
            int port = lanyard.server().httpPort();
            assertThat(get("127.0.0.1", port, "/metrics").statusCode()).isEqualTo(404);
            assertThat(get(ThisHost.nonLoopbackAddress(), port, "/metrics").statusCode()).isEqualTo(404);
            assertThat(get("127.0.0.1", port, "/healthz").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void publicIsTheDefaultAndServesAnyone() throws Exception {
        Map<String, String> settings = new java.util.HashMap<>(onAllAddresses("public"));
        settings.remove("http.metrics");
        try (RunningServer lanyard = RunningServer.start(dir, settings)) {
            Answer scrape = get(ThisHost.nonLoopbackAddress(), lanyard.server().httpPort(), "/metrics");
            assertThat(scrape.statusCode()).isEqualTo(200);
            assertThat(scrape.body()).contains("process_cpu_seconds_total");
        }
    }

    @Test
    void anUnknownValueIsRefusedAtStart() {
        assertThatThrownBy(() -> ServerConfig.dev(dir, 0, 0, Map.of("http.metrics", "private")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("http.metrics must be public, loopback or off, not private");
    }

    /** Publication on every address (the console, loopback only over plain HTTP, stays off). */
    private static Map<String, String> onAllAddresses(String metrics) {
        return Map.of("http.host", "0.0.0.0", "console.enabled", "false", "http.metrics", metrics);
    }

    /** A response's status and body. */
    private record Answer(int statusCode, String body) {
    }

    /** GET of {@code target} (a path, or an absolute URL: the request target as sent) at {@code host}. */
    private static Answer get(String host, int port, String target) throws Exception {
        try (Socket socket = new Socket(host, port)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET " + target + " HTTP/1.1\r\nHost: " + host
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Answer(Integer.parseInt(answer.substring("HTTP/1.1 ".length(), "HTTP/1.1 200".length())),
                    answer.substring(answer.indexOf("\r\n\r\n") + 4));
        }
    }
}
