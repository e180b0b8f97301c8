package dev.lanyard.rpc;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets the first refusal of each key (a caller, a limit and a source) through once per minute and
 * counts the rest, so a flood of refusals cannot become a flood of audit rows or log lines. Keys
 * whose window has passed are forgotten once many are held. The console uses it too, for refused
 * login links.
 */
public final class OncePerMinute {

    public static final Duration QUIET = Duration.ofMinutes(1);
    private static final int MAX_TRACKED = 10_000;

    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    private static final class Window {
        final Instant start;
        final AtomicLong suppressed = new AtomicLong();

        Window(Instant start) {
            this.start = start;
        }
    }

    public OncePerMinute(Clock clock) {
        this.clock = clock;
    }

    /**
     * If this refusal of {@code key} opens a new window (it is to be recorded), the count of those left
     * out in the key's previous window; else empty (it was counted).
     */
    public OptionalLong admit(String key) {
        Instant now = clock.instant();
        if (windows.size() > MAX_TRACKED) {
            windows.values().removeIf(w -> w.start.plus(QUIET).isBefore(now));
        }
        Window window = windows.get(key);
        if (window != null && window.start.plus(QUIET).isAfter(now)) {
            window.suppressed.incrementAndGet();
            return OptionalLong.empty();
        }
        Window fresh = new Window(now);
        long left = window == null ? 0 : window.suppressed.get();
        if (window == null ? windows.putIfAbsent(key, fresh) != null : !windows.replace(key, window, fresh)) {
            windows.get(key).suppressed.incrementAndGet(); // another thread opened the window
            return OptionalLong.empty();
        }
        return OptionalLong.of(left);
    }
}
