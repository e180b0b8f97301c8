package dev.lanyard.replica;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.store.Database;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.TestPostgres;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A replica whose clock is off PostgreSQL's says so at start. */
class ClockSkewTest {

    @Test
    void aClockMinutesAheadOfPostgresIsReportedAndOneInStepIsNot() throws Exception {
        TestPostgres postgres = TestPostgres.get();
        try (Database db = Database.open(postgres.newDatabase(), postgres.user(), "");
                LogCapture logs = new LogCapture()) {
            assertThat(ClockSkew.measure(db, Clock.systemUTC()).orElseThrow().abs())
                    .isLessThan(ClockSkew.TOLERANCE);
            assertThat(ClockSkew.warnIfSkewed(db, Clock.systemUTC())).isFalse();

            Clock ahead = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(11));
            assertThat(ClockSkew.warnIfSkewed(db, ahead)).isTrue();
            assertThat(logs.lines()).anySatisfy(line -> assertThat(line).contains("ms ahead of PostgreSQL's",
                    "synchronize the clocks"));
        }
    }
}
