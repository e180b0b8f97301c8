package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.TestPki;
import dev.lanyard.testing.MutableClock;
import io.grpc.Status;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RenewalScheduleTest {

    private final RenewalSchedule schedule = new RenewalSchedule(Duration.ofSeconds(1), Duration.ofMinutes(2));

    @Test
    void renewsAtHalfOfTheValidityPeriod() {
        MutableClock clock = new MutableClock(Instant.parse("2030-01-01T12:00:00Z"));
        // TestPki leaves: notBefore 60 s back, notAfter 1 h ahead, so half-life is at 12:29:30.
        X509Certificate leaf = new TestPki(clock, "lanyard.local").leaf("spiffe://lanyard.local/a").leaf();

        assertThat(schedule.untilHalfLife(leaf, clock.instant())).isEqualTo(Duration.ofMinutes(29).plusSeconds(30));
        assertThat(schedule.untilHalfLife(leaf, Instant.parse("2030-01-01T12:29:30Z"))).isZero();
        assertThat(schedule.untilHalfLife(leaf, Instant.parse("2030-01-01T12:50:00Z"))).isZero();
    }

    @Test
    void doublesTheBackoffUpToItsCap() {
        assertThat(schedule.backoff(1)).isEqualTo(Duration.ofSeconds(1));
        assertThat(schedule.backoff(2)).isEqualTo(Duration.ofSeconds(2));
        assertThat(schedule.backoff(5)).isEqualTo(Duration.ofSeconds(16));
        assertThat(schedule.backoff(8)).isEqualTo(Duration.ofMinutes(2));
        assertThat(schedule.backoff(1000)).isEqualTo(Duration.ofMinutes(2));
    }

    @Test
    void retriesOnlyWhatMayRecover() {
        assertThat(RenewalSchedule.isTransient(Status.Code.UNAVAILABLE)).isTrue();
        assertThat(RenewalSchedule.isTransient(Status.Code.DEADLINE_EXCEEDED)).isTrue();
        assertThat(RenewalSchedule.isTransient(Status.Code.RESOURCE_EXHAUSTED)).isTrue();
        assertThat(RenewalSchedule.isTransient(Status.Code.PERMISSION_DENIED)).isFalse();
        assertThat(RenewalSchedule.isTransient(Status.Code.UNAUTHENTICATED)).isFalse();
        assertThat(RenewalSchedule.isTransient(Status.Code.INVALID_ARGUMENT)).isFalse();
    }

    @Test
    void refusesABackoffThatMakesNoSense() {
        assertThatThrownBy(() -> new RenewalSchedule(Duration.ZERO, Duration.ofSeconds(1)))
                .hasMessage("the initial backoff must be positive, not PT0S");
        assertThatThrownBy(() -> new RenewalSchedule(Duration.ofSeconds(5), Duration.ofSeconds(1)))
                .hasMessage("the maximum backoff PT1S is shorter than the initial PT5S");
    }
}
