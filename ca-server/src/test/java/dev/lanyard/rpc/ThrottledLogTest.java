package dev.lanyard.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.MutableClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class ThrottledLogTest {

    @Test
    void logsOncePerKeyAndMinuteAndCountsWhatItLeftOut() {
        MutableClock clock = MutableClock.startingNow();
        ThrottledLog log = new ThrottledLog(LoggerFactory.getLogger("throttled-test"), clock);
        try (LogCapture logs = new LogCapture()) {
            for (int i = 0; i < 5; i++) {
                log.warn("limit 10.0.0.1", "refused 10.0.0.1");
            }
            log.warn("limit 10.0.0.2", "refused 10.0.0.2"); // another source has its own window
            clock.advance(Duration.ofSeconds(59));
            log.warn("limit 10.0.0.1", "refused 10.0.0.1");
            assertThat(lines(logs)).hasSize(2);

            clock.advance(Duration.ofSeconds(2));
            log.warn("limit 10.0.0.1", "refused 10.0.0.1");
            assertThat(lines(logs)).hasSize(3).last().asString()
                    .startsWith("throttled-test refused 10.0.0.1 (and 5 more in the previous window)");
        }
    }

    private static java.util.List<String> lines(LogCapture logs) {
        return logs.lines().stream().filter(l -> l.startsWith("throttled-test")).toList();
    }
}
