package dev.lanyard.rpc;

import java.time.Clock;
import java.util.OptionalLong;
import org.slf4j.Logger;

/**
 * Warns once per key (a limit and a source) and minute, with the count of the refusals left out since,
 * so a flood of refusals cannot turn into a flood of log lines. Messages name a limit and an address,
 * never a credential.
 */
public final class ThrottledLog {

    private final Logger log;
    private final OncePerMinute windows;

    public ThrottledLog(Logger log, Clock clock) {
        this.log = log;
        this.windows = new OncePerMinute(clock);
    }

    /** Logs {@code message} if it is the first refusal of {@code key} in its window, else counts it. */
    public void warn(String key, String message) {
        OptionalLong left = windows.admit(key);
        if (left.isEmpty()) {
            return;
        }
        log.warn("{}{}; further refusals of this kind from this source in the next {} s are counted, not logged",
                message, left.getAsLong() > 0 ? " (and " + left.getAsLong() + " more in the previous window)" : "",
                OncePerMinute.QUIET.toSeconds());
    }
}
