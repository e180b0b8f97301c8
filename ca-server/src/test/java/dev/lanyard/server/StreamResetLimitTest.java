package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.RawHttp2;
import dev.lanyard.testing.RunningServer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** grpc.max-resets-per-window over real TLS: a client that starts calls and resets them at once ("rapid reset"). */
class StreamResetLimitTest {

    static final String HEALTH = "/grpc.health.v1.Health/Check";
    static final int ENHANCE_YOUR_CALM = 0xb;

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("grpc.max-resets-per-window", "20", "grpc.reset-window", "60s"));
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aClientThatResetsMoreStreamsThanAllowedLosesItsConnection() throws Exception {
        try (RawHttp2 polite = RawHttp2.connect(lanyard.server(), "127.0.0.1");
                RawHttp2 rapid = RawHttp2.connect(lanyard.server(), "127.0.0.1")) {
            polite.startAndReset(HEALTH, 1, 20); // as many as allowed: the connection stays
            // more: each reset frees its stream at once, so grpc.max-concurrent-streams never stops them
            rapid.startAndReset(HEALTH, 1, 30);
            assertThat(rapid.goAway().get(30, TimeUnit.SECONDS)).isEqualTo(ENHANCE_YOUR_CALM);
            polite.startMessage("/lanyard.v1.TrustBundleService/GetTrustBundle", 41, 100, 100);
            polite.finishMessage(41, 0);
            assertThat(polite.outcome(41)).isEqualTo("served");
            assertThat(polite.goAway()).isNotDone();
        }
    }
}
