package dev.lanyard.replica;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class StoreReachabilityTest {

    private final AtomicLong nanos = new AtomicLong(1_000);
    private final StoreReachability store = new StoreReachability(nanos::get, Duration.ofSeconds(5));

    @Test
    void aFailedLookIsUnreachableAtOnceUntilTheNextAnswer() {
        assertThat(store.reachable()).as("the server read the store as it started").isTrue();
        store.failed();
        assertThat(store.reachable()).isFalse();
        store.answered();
        assertThat(store.reachable()).isTrue();
    }

    @Test
    void noAnswerForLongerThanTheWindowIsUnreachable() {
        nanos.addAndGet(Duration.ofSeconds(5).toNanos());
        assertThat(store.reachable()).as("answered 5 s ago").isTrue();
        nanos.incrementAndGet();
        assertThat(store.reachable()).as("a look that hangs").isFalse();
        store.answered();
        assertThat(store.reachable()).isTrue();
    }
}
