package dev.lanyard.rotation;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * Rotation steps are taken by one replica at a time: the work runs while this replica holds the
 * lease, and its writes carry the {@link Fence} so the store refuses them if the lease was lost.
 */
public interface RotationLease {

    /**
     * Runs {@code work} holding the lease, waiting at most {@code wait} for it; empty if another
     * replica kept it that long. The lease is released when the work returns.
     */
    <T> Optional<T> whileHeld(Duration wait, Function<Fence, T> work);

    /** One process alone on its store (tests, tools): a local lock, fence token 0. */
    static RotationLease singleProcess(String name) {
        ReentrantLock lock = new ReentrantLock();
        Fence fence = new Fence(name, "local", 0);
        return new RotationLease() {
            @Override
            public <T> Optional<T> whileHeld(Duration wait, Function<Fence, T> work) {
                try {
                    if (!lock.tryLock(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                        return Optional.empty();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return Optional.empty();
                }
                try {
                    return Optional.of(work.apply(fence));
                } finally {
                    lock.unlock();
                }
            }
        };
    }
}
