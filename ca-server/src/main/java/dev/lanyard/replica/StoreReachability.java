package dev.lanyard.replica;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Whether the store answers, as the change feed sees it: the feed asks the database at least once a
 * poll interval anyway, so readiness costs no query of its own. Reachable while the last look
 * succeeded and came within {@code window}; a failed look makes it unreachable at once, and the next
 * look that succeeds makes it reachable again. A look that hangs (a network that drops packets, a
 * pool waiting for a connection) ages past the window.
 */
public final class StoreReachability {

    private final LongSupplier nanoTime;
    private final long windowNanos;
    private volatile long lastAnswer;
    private volatile boolean failing;

    /**
     * @param nanoTime elapsed time ({@code System::nanoTime}): not the wall clock, which jumps (and
     *                 which tests move by hours)
     */
    public StoreReachability(LongSupplier nanoTime, Duration window) {
        this.nanoTime = nanoTime;
        this.windowNanos = window.toNanos();
        this.lastAnswer = nanoTime.getAsLong(); // the server read the store as it started
    }

    /** The store answered. */
    public void answered() {
        lastAnswer = nanoTime.getAsLong();
        failing = false;
    }

    /** The store did not answer: it refused or lost the connection, or failed the query. */
    public void failed() {
        failing = true;
    }

    public boolean reachable() {
        return !failing && nanoTime.getAsLong() - lastAnswer <= windowNanos;
    }
}
