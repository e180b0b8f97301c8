package dev.lanyard.rpc;

import com.google.protobuf.Duration;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import java.util.Optional;

/**
 * The ranges protobuf defines for google.protobuf.Duration (±10,000 years, its nanos of its seconds'
 * sign) and google.protobuf.Timestamp (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z), as
 * protobuf-java-util checks them. A value outside them overflows java.time or the arithmetic on it, so
 * it is the caller's mistake, refused by the chain with the field named, and never an internal error
 * in a handler.
 */
final class TimeRanges {

    private TimeRanges() {
    }

    /** Why {@code message}, a Duration or a Timestamp, is outside its range; empty for any other message. */
    static Optional<String> violation(Message message) {
        if (message instanceof Duration d && !Durations.isValid(d)) {
            return Optional.of("seconds is " + d.getSeconds() + " and nanos " + d.getNanos() + "; a Duration lies"
                    + " within ±315,576,000,000 seconds (10,000 years) and its nanos, within ±999,999,999, have the"
                    + " sign of its seconds");
        }
        if (message instanceof Timestamp t && !Timestamps.isValid(t)) {
            return Optional.of("seconds is " + t.getSeconds() + " and nanos " + t.getNanos() + "; a Timestamp lies"
                    + " between 0001-01-01T00:00:00Z (-62135596800) and 9999-12-31T23:59:59.999999999Z"
                    + " (253402300799), its nanos within 0 and 999,999,999");
        }
        return Optional.empty();
    }
}
