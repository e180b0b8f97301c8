package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.RunningServer;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What bench reads of a real server's /metrics, and what it says when the server refuses it. */
class BenchWindowTest {

    @TempDir
    Path dir;

    @Test
    void readsTheServersFigures() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir)) {
            BenchWindow.Sample sample = new BenchWindow(Optional.of(URI.create(lanyard.httpUrl("/metrics")))).sample();
            assertThat(sample.problem()).isEmpty();
            assertThat(sample.serverCpuSeconds()).isPositive();
        }
    }

    @Test
    void aRefusedMetricsPageIsNamedWithWhatToDo() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir, Map.of("http.metrics", "off"))) {
            URI url = URI.create(lanyard.httpUrl("/metrics"));
            BenchWindow.Sample sample = new BenchWindow(Optional.of(url)).sample();
            assertThat(sample.problem()).hasValue(url + " answered HTTP 404: the server does not serve /metrics to"
                    + " this host (http.metrics=loopback serves only the server's own host, off nobody): run bench on"
                    + " the server's host, or set http.metrics=public there");
            assertThat(sample.serverCpuSeconds()).isNaN();
        }
    }
}
