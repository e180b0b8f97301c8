package dev.lanyard.token;

import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A token bucket per identity, so one workload cannot make the issuer mint for everybody else. */
public final class RateLimiter {

    private static final int MAX_TRACKED = 100_000;

    private final Clock clock;
    private final double permitsPerSecond;
    private final int burst;
    private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long lastNanos;

        Bucket(double tokens, long lastNanos) {
            this.tokens = tokens;
            this.lastNanos = lastNanos;
        }
    }

    public RateLimiter(Clock clock, double permitsPerSecond, int burst) {
        if (permitsPerSecond <= 0 || burst < 1) {
            throw new IllegalArgumentException("rate and burst must be positive");
        }
        this.clock = clock;
        this.permitsPerSecond = permitsPerSecond;
        this.burst = burst;
    }

    public boolean tryAcquire(String key) {
        long now = nanos();
        if (buckets.size() > MAX_TRACKED) {
            evictFull(now);
        }
        Bucket bucket = buckets.computeIfAbsent(key, k -> new Bucket(burst, now));
        synchronized (bucket) {
            refill(bucket, now);
            if (bucket.tokens >= 1) {
                bucket.tokens -= 1;
                return true;
            }
            return false;
        }
    }

    /** Buckets that have refilled completely carry no state worth keeping. */
    private void evictFull(long now) {
        buckets.entrySet().removeIf(e -> {
            synchronized (e.getValue()) {
                refill(e.getValue(), now);
                return e.getValue().tokens >= burst;
            }
        });
    }

    private void refill(Bucket bucket, long now) {
        double elapsed = (now - bucket.lastNanos) / 1e9;
        bucket.tokens = Math.min(burst, bucket.tokens + elapsed * permitsPerSecond);
        bucket.lastNanos = now;
    }

    private long nanos() {
        return clock.millis() * 1_000_000L;
    }
}
