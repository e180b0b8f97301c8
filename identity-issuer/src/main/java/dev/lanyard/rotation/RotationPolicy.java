package dev.lanyard.rotation;

import java.time.Duration;
import java.util.Objects;

/**
 * How keys rotate.
 *
 * @param keyLifetime  how long a key signs before the next one takes over
 * @param publishLead  how long a prepared key is published before it may sign: at least one refresh
 *                     interval of every verifier's cache, so nobody meets a signature by an unknown key
 * @param retention    how long a retired key stays published: at least the longest lifetime of
 *                     anything it signed (plus allowed clock skew), so every signature stays verifiable
 */
public record RotationPolicy(Duration keyLifetime, Duration publishLead, Duration retention) {

    public RotationPolicy {
        Objects.requireNonNull(keyLifetime, "keyLifetime");
        Objects.requireNonNull(publishLead, "publishLead");
        Objects.requireNonNull(retention, "retention");
        if (keyLifetime.isNegative() || keyLifetime.isZero() || publishLead.isNegative() || retention.isNegative()) {
            throw new IllegalArgumentException("rotation durations must be positive");
        }
        if (publishLead.compareTo(keyLifetime) >= 0) {
            throw new IllegalArgumentException("the publish lead must be shorter than the key lifetime");
        }
    }
}
