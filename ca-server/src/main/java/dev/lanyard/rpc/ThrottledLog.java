package dev.lanyard.rpc;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * Warns once per key (a limit and a source) and minute, with the count of the refusals left out since,
 * so a flood of refusals cannot turn into a flood of log lines. Messages name a limit and an address,
 * never a credential.
 */
public final class ThrottledLog {

    private static final Duration QUIET = Duration.ofMinutes(1);
    private static final int MAX_TRACKED = 10_000;

    private final Logger log;
    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    private record Window(Instant start, AtomicLong suppressed) {
    }

    public ThrottledLog(Logger log, Clock clock) {
        this.log = log;
        this.clock = clock;
    }

    /** Logs {@code message} if it is the first refusal of {@code key} in its window, else counts it. */
    public void warn(String key, String message) {
        Instant now = clock.instant();
        if (windows.size() > MAX_TRACKED) {
            windows.values().removeIf(w -> w.start.plus(QUIET).isBefore(now));
        }
        Window fresh = new Window(now, new AtomicLong());
        long[] left = {0};
        Window current = windows.merge(key, fresh, (old, f) -> {
            if (old.start.plus(QUIET).isAfter(now)) {
                return old;
            }
            left[0] = old.suppressed.get();
            return f;
        });
        if (current != fresh) {
            current.suppressed.incrementAndGet();
            return;
        }
        log.warn("{}{}; further refusals of this kind from this source in the next {} s are counted, not logged",
                message, left[0] > 0 ? " (and " + left[0] + " more in the previous window)" : "", QUIET.toSeconds());
    }
}
