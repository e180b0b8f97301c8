package dev.lanyard.token;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RateLimiterTest {

    @Test
    void burstThenSteadyRatePerIdentity() {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-01T00:00:00Z"));
        RateLimiter limiter = new RateLimiter(clock, 10, 3);
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("a")).isFalse();
        assertThat(limiter.tryAcquire("b")).as("another identity has its own bucket").isTrue();
        clock.advance(Duration.ofMillis(100));
        assertThat(limiter.tryAcquire("a")).isTrue();
        assertThat(limiter.tryAcquire("a")).isFalse();
        clock.advance(Duration.ofHours(1));
        for (int i = 0; i < 3; i++) {
            assertThat(limiter.tryAcquire("a")).isTrue();
        }
        assertThat(limiter.tryAcquire("a")).as("never more than the burst").isFalse();
    }
}
