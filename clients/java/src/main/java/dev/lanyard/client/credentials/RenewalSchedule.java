package dev.lanyard.client.credentials;

import io.grpc.Status;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;

/** When to renew: at half of the certificate's life, and after a failure with doubling backoff. */
final class RenewalSchedule {

    private final Duration initialBackoff;
    private final Duration maxBackoff;

    RenewalSchedule(Duration initialBackoff, Duration maxBackoff) {
        if (initialBackoff.isNegative() || initialBackoff.isZero()) {
            throw new IllegalArgumentException("the initial backoff must be positive, not " + initialBackoff);
        }
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("the maximum backoff " + maxBackoff + " is shorter than the initial "
                    + initialBackoff);
        }
        this.initialBackoff = initialBackoff;
        this.maxBackoff = maxBackoff;
    }

    /** How long from {@code now} until half of the certificate's validity has passed; zero if it has. */
    Duration untilHalfLife(X509Certificate leaf, Instant now) {
        Instant notBefore = leaf.getNotBefore().toInstant();
        Instant notAfter = leaf.getNotAfter().toInstant();
        Instant halfLife = notBefore.plus(Duration.between(notBefore, notAfter).dividedBy(2));
        Duration wait = Duration.between(now, halfLife);
        return wait.isNegative() ? Duration.ZERO : wait;
    }

    /** The wait after the {@code failures}-th consecutive failure (1-based): initial, doubling, capped. */
    Duration backoff(int failures) {
        Duration wait = initialBackoff;
        for (int i = 1; i < failures && wait.compareTo(maxBackoff) < 0; i++) {
            wait = wait.multipliedBy(2);
        }
        return wait.compareTo(maxBackoff) > 0 ? maxBackoff : wait;
    }

    /** Worth retrying: the server or the network may recover. Anything else is a refusal. */
    static boolean isTransient(Status.Code code) {
        return switch (code) {
            case UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNKNOWN, CANCELLED -> true;
            default -> false;
        };
    }
}
