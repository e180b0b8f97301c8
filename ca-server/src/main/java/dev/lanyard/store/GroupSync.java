package dev.lanyard.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Makes committed transactions durable with one sync shared by every commit that finished before
 * it started (group commit for the fsync). A committer takes a ticket after its commit returned;
 * whoever holds the lock syncs everything committed so far, and a committer whose ticket an earlier
 * sync already covered returns without syncing.
 */
final class GroupSync {

    /** Forces what the database has written to stable storage. */
    @FunctionalInterface
    interface Flush {
        void flush(Connection connection) throws SQLException;
    }

    private final Flush flush;
    private final AtomicLong commits = new AtomicLong();
    private final AtomicLong syncs = new AtomicLong();
    private final ReentrantLock syncing = new ReentrantLock();
    private long synced; // the highest ticket on disk; guarded by syncing

    GroupSync(Flush flush) {
        this.flush = flush;
    }

    /** Returns once everything {@code connection} committed is on stable storage. */
    void afterCommit(Connection connection) throws SQLException {
        long ticket = commits.incrementAndGet();
        syncing.lock();
        try {
            if (synced >= ticket) {
                return;
            }
            // Every ticket up to here belongs to a commit that has returned, so this sync covers it.
            long covered = commits.get();
            flush.flush(connection);
            syncs.incrementAndGet();
            synced = covered;
        } finally {
            syncing.unlock();
        }
    }

    /** Commits made durable so far (each counted once), for the syncs-per-commit figure. */
    long commits() {
        return commits.get();
    }

    long syncs() {
        return syncs.get();
    }
}
