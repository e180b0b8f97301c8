package dev.lanyard.replica;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.store.JdbcLeases;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A named lease row shared by every replica on the database. The holder keeps it for at most
 * {@code ttl} (a replica that dies mid-step blocks the others no longer than that) and gives it
 * back when its work is done. Within one process a lock lets one thread at a time try.
 */
public final class DatabaseLease implements RotationLease {

    private static final Logger LOG = LoggerFactory.getLogger(DatabaseLease.class);
    private static final long RETRY_MILLIS = 50;

    private final JdbcLeases leases;
    private final String name;
    private final String holder;
    private final Duration ttl;
    private final Clock clock;
    private final ReentrantLock local = new ReentrantLock();

    public DatabaseLease(JdbcLeases leases, String name, String holder, Duration ttl, Clock clock) {
        this.leases = leases;
        this.name = name;
        this.holder = holder;
        this.ttl = ttl;
        this.clock = clock;
    }

    /** This process among the replicas: its pid and a random part (a restarted process is a new holder). */
    public static String holderId(java.security.SecureRandom random) {
        return ProcessHandle.current().pid() + "/" + Long.toHexString(random.nextLong());
    }

    @Override
    public <T> Optional<T> whileHeld(Duration wait, Function<Fence, T> work) {
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            if (!local.tryLock(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                return Optional.empty();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
        try {
            Optional<Fence> fence = acquire();
            while (fence.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(RETRY_MILLIS + ThreadLocalRandom.current().nextLong(RETRY_MILLIS));
                fence = acquire();
            }
            if (fence.isEmpty()) {
                return Optional.empty();
            }
            try {
                return Optional.of(work.apply(fence.get()));
            } finally {
                release(fence.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            local.unlock();
        }
    }

    private Optional<Fence> acquire() {
        Instant now = clock.instant();
        return leases.acquire(name, holder, now, now.plus(ttl));
    }

    private void release(Fence fence) {
        try {
            leases.release(fence);
        } catch (RuntimeException e) {
            LOG.warn("could not give back lease {}; it expires by itself within {}", name, ttl, e);
        }
    }
}
