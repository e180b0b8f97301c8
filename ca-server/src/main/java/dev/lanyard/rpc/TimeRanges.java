package dev.lanyard.rpc;

import com.google.protobuf.Duration;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import java.util.Optional;

/**
 * The ranges protobuf defines for google.protobuf.Duration (±10,000 years, its nanos of its seconds'
 * sign) and google.protobuf.Timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z). A value
 * outside them overflows java.time or the arithmetic on it, so it is the caller's mistake, refused by
 * the chain with the field named, and never an internal error in a handler.
 */
final class TimeRanges {

    static final long MAX_DURATION_SECONDS = 315_576_000_000L;
    /** 0001-01-01T00:00:00Z. */
    static final long MIN_TIMESTAMP_SECONDS = -62_135_596_800L;
    /** 9999-12-31T23:59:59Z. */
    static final long MAX_TIMESTAMP_SECONDS = 253_402_300_799L;
    private static final int MAX_NANOS = 999_999_999;

    private TimeRanges() {
    }

    /** Why {@code message}, a Duration or a Timestamp, is outside its range; empty for any other message. */
    static Optional<String> violation(Message message) {
        if (message instanceof Duration d) {
            return duration(d.getSeconds(), d.getNanos());
        }
        if (message instanceof Timestamp t) {
            return timestamp(t.getSeconds(), t.getNanos());
        }
        return Optional.empty();
    }

    private static Optional<String> duration(long seconds, int nanos) {
        if (seconds < -MAX_DURATION_SECONDS || seconds > MAX_DURATION_SECONDS) {
            return Optional.of("seconds is " + seconds + "; a Duration lies within ±" + MAX_DURATION_SECONDS
                    + " seconds (10,000 years)");
        }
        if (nanos < -MAX_NANOS || nanos > MAX_NANOS || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
            return Optional.of("nanos is " + nanos + " with seconds " + seconds + "; a Duration's nanos lie within ±"
                    + MAX_NANOS + " and have the sign of its seconds");
        }
        return Optional.empty();
    }

    private static Optional<String> timestamp(long seconds, int nanos) {
        if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) {
            return Optional.of("seconds is " + seconds + "; a Timestamp lies between 0001-01-01T00:00:00Z ("
                    + MIN_TIMESTAMP_SECONDS + ") and 9999-12-31T23:59:59Z (" + MAX_TIMESTAMP_SECONDS + ")");
        }
        if (nanos < 0 || nanos > MAX_NANOS) {
            return Optional.of("nanos is " + nanos + "; a Timestamp's nanos lie within 0 and " + MAX_NANOS);
        }
        return Optional.empty();
    }
}
