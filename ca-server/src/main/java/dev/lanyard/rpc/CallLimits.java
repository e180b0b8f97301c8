package dev.lanyard.rpc;

import dev.lanyard.token.RateLimiter;
import java.time.Clock;

/**
 * Per-caller call rates: a token bucket per SPIFFE ID for callers with a certificate, and a much
 * smaller one per source address for calls without one (bootstrap), so a flood of made-up join
 * tokens cannot fill the audit trail or starve others. Each replica keeps its own buckets: across N
 * replicas behind a balancer a caller gets at most N times its limit.
 */
final class CallLimits {

    /** Rates in calls per second and bursts in calls. */
    record Rates(double identityPerSecond, int identityBurst, double anonymousPerSecond, int anonymousBurst) {
    }

    private final RateLimiter identities;
    private final RateLimiter sources;
    private final Rates rates;

    CallLimits(Rates rates, Clock clock) {
        this.rates = rates;
        this.identities = new RateLimiter(clock, rates.identityPerSecond(), rates.identityBurst());
        this.sources = new RateLimiter(clock, rates.anonymousPerSecond(), rates.anonymousBurst());
    }

    /** The limit's description when {@code key} is over it, else null. */
    String exceeded(Object caller, String source) {
        if (caller instanceof AuthenticatedPeer peer) {
            return identities.tryAcquire(peer.spiffeId().toString()) ? null
                    : peer.spiffeId() + " is calling faster than " + rate(rates.identityPerSecond())
                            + " calls per second; retry shortly";
        }
        return sources.tryAcquire(source) ? null
                : "calls without a client certificate from " + source + " exceed " + rate(rates.anonymousPerSecond())
                        + " per second; retry shortly";
    }

    private static String rate(double perSecond) {
        return perSecond == Math.rint(perSecond) ? Long.toString((long) perSecond) : Double.toString(perSecond);
    }
}
