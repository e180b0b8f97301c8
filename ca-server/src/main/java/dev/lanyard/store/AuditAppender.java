package dev.lanyard.store;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Appends audit records to the hash chain, each with the writes it goes with (the certificate it
 * records, say), durably before returning. Appends that arrive while a commit is in flight share
 * the next transaction (group commit): the chain's head is one row that every append locks, so one
 * commit per append would make the database's commit latency the ceiling of issuance.
 *
 * <p>A caller that waits ({@link #append}) commits everything queued itself if it takes the lock
 * first, its own append and the others'; the others find theirs done when they get the lock. A
 * caller that does not wait ({@link #appendAsync}: a request served on a network thread, which must
 * not block) leaves its append to the committer, one thread that runs only while appends are
 * queued, and is told through a future once its append is durable. Futures are completed after the
 * lock is released, so what they start (sending a reply) never holds up the next commit. Before each
 * commit the committer waits, briefly, for requests that are still checking and signing on their
 * network threads ({@link #preparing}), so that they share it rather than each wait for the next. If a
 * shared transaction fails on one append's data, its appends are retried one per transaction, so
 * the one that fails (a duplicate serial) fails alone and leaves no trace.
 */
final class AuditAppender {

    /** The most appends one transaction takes; the rest wait for the next. */
    static final int MAX_BATCH = 256;
    /** How often a batch starts again from a tip that another writer moved. */
    private static final int MAX_ATTEMPTS = 5;
    /** SQLState of a duplicate key, in H2 and PostgreSQL alike. */
    private static final String UNIQUE_VIOLATION = "23505";

    private final Jdbc jdbc;
    private final ConcurrentLinkedQueue<Append> queue = new ConcurrentLinkedQueue<>();
    private final ReentrantLock committing = new ReentrantLock();
    /** Whether the committer has been asked to run and has not yet found the queue empty. */
    private final AtomicBoolean committerDue = new AtomicBoolean();
    private final ThreadPoolExecutor committer;
    /** Transactions that appended records, and the records they appended: how well appends share commits. */
    private final LongAdder commits = new LongAdder();
    private final LongAdder appended = new LongAdder();
    /** Requests that are making an asynchronous append on their thread now ({@link #preparing}). */
    private final AtomicInteger preparing = new AtomicInteger();
    /** The committer while it waits for them, for the last of them to wake. */
    private volatile Thread waiting;
    /** The longest the committer holds a commit back for appends in preparation. */
    private final long maxWaitNanos;

    /**
     * How long a commit waits at most for requests that are preparing their appends: a few times what
     * a renewal takes to check its CSR and sign (a quarter of a millisecond on a 2-core virtual
     * machine), far less than the commit's own fsync on most disks.
     */
    static final Duration DEFAULT_MAX_WAIT = Duration.ofMillis(1);

    AuditAppender(Jdbc jdbc) {
        this(jdbc, DEFAULT_MAX_WAIT);
    }

    AuditAppender(Jdbc jdbc, Duration maxWait) {
        this.jdbc = jdbc;
        this.maxWaitNanos = maxWait.toNanos();
        // One thread, gone after a quiet second: an audit trail that sees no asynchronous appends
        // (a test's, a command's) keeps no thread.
        this.committer = new ThreadPoolExecutor(1, 1, 1, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread thread = new Thread(r, "lanyard-audit-commit");
            thread.setDaemon(true);
            return thread;
        });
        this.committer.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs {@code alongside} and appends {@code event} in one transaction, shared with other
     * appends. Returns once both are committed; neither is stored if either fails.
     *
     * @throws StoreException if this append or the shared transaction failed
     */
    void append(AuditEvent event, Jdbc.Work<?> alongside) {
        Append append = new Append(event, alongside);
        queue.add(append);
        while (!append.finished) {
            commitNext(); // ours, or nothing if whoever held the lock committed it meanwhile
        }
        if (append.failure != null) {
            throw append.failure;
        }
    }

    /**
     * As {@link #append}, without waiting: the future completes once both are committed, or
     * exceptionally with what {@link #append} would have thrown. Completed on the committer's thread
     * (or a waiting caller's that committed it), so what depends on it must not block.
     */
    CompletableFuture<Void> appendAsync(AuditEvent event, Jdbc.Work<?> alongside) {
        Append append = new Append(event, alongside);
        queue.add(append);
        if (committerDue.compareAndSet(false, true)) {
            committer.execute(this::commitQueued);
        }
        return append.done;
    }

    /**
     * Runs {@code work}, which appends asynchronously once it has done its part (checked a request,
     * signed a certificate): while it runs, the committer holds the next commit back for it, for at
     * most its longest wait, so that requests in progress together share one durable commit: fewer
     * commits, each with its fsync, for the same requests. A request alone is not held up: nothing
     * else is in preparation when the committer looks.
     */
    <T> T preparing(Supplier<T> work) {
        preparing.incrementAndGet();
        try {
            return work.get();
        } finally {
            if (preparing.decrementAndGet() == 0) {
                Thread committer = waiting;
                if (committer != null) {
                    LockSupport.unpark(committer);
                }
            }
        }
    }

    /** Waits until no request is preparing an append, or the longest wait has passed. */
    private void awaitPreparing() {
        if (maxWaitNanos <= 0 || preparing.get() == 0) {
            return;
        }
        waiting = Thread.currentThread(); // before the count is read again: the last to finish sees it, or we see 0
        try {
            long deadline = System.nanoTime() + maxWaitNanos;
            while (preparing.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                LockSupport.parkNanos(this, left);
            }
        } finally {
            waiting = null;
        }
    }

    /** The committer: commits what is queued until the queue is empty. */
    private void commitQueued() {
        do {
            try {
                while (!queue.isEmpty()) {
                    awaitPreparing();
                    commitNext();
                }
            } finally {
                committerDue.set(false); // also after an Error, so the next append asks again
            }
            // An append queued after the last drain but before the flag fell found it still up and
            // did not ask again: look once more.
        } while (!queue.isEmpty() && committerDue.compareAndSet(false, true));
    }

    /**
     * Makes {@code change} on this thread and appends {@code event} of its result, in one transaction of
     * their own that the change's repositories join ({@link Jdbc#joining}). Appends arriving meanwhile
     * wait for the next shared transaction.
     */
    <T, E extends Exception> T appendWith(Function<T, AuditEvent> event, AuditLog.Change<T, E> change) throws E {
        committing.lock();
        try {
            for (int attempt = 1; ; attempt++) {
                try {
                    T committed = jdbc.inTransaction(c -> {
                        Head head = Head.lock(c);
                        T result = jdbc.joining(c, connection -> {
                            try {
                                return change.make();
                            } catch (RuntimeException e) {
                                throw e;
                            } catch (Exception e) {
                                throw new ChangeRefused(e); // rolls the transaction back
                            }
                        });
                        link(c, head, List.of(event.apply(result)));
                        return result;
                    });
                    countCommit(1);
                    return committed;
                } catch (ChainMovedException e) {
                    if (attempt >= MAX_ATTEMPTS) {
                        throw new StoreException(e.getCause());
                    }
                } catch (ChangeRefused e) {
                    throw e.<E>refusal();
                }
            }
        } finally {
            committing.unlock();
        }
    }

    /**
     * As {@link #appendWith} for a change that may find nothing to do: when it returns empty, whatever
     * it wrote is rolled back and no record is appended.
     */
    <T, E extends Exception> Optional<T> appendIfChanged(Function<T, AuditEvent> event,
            AuditLog.Change<Optional<T>, E> change) throws E {
        try {
            return appendWith(result -> event.apply(result.orElseThrow(Unchanged::new)), change);
        } catch (Unchanged e) {
            return Optional.empty();
        }
    }

    /** Under the lock, commits what is queued (if anything); then settles it, the lock released. */
    private void commitNext() {
        List<Append> committed;
        committing.lock();
        try {
            List<Append> batch = drain();
            committed = batch.isEmpty() ? batch : commit(batch);
        } finally {
            committing.unlock();
        }
        committed.forEach(Append::settle);
    }

    private List<Append> drain() {
        List<Append> batch = new ArrayList<>();
        Append next;
        while (batch.size() < MAX_BATCH && (next = queue.poll()) != null) {
            batch.add(next);
        }
        return batch;
    }

    /**
     * All in one transaction. If another writer took the next id first, again from the new tip. If
     * it fails because of one append's data (a duplicate serial, a value too long), each is retried
     * alone so the bad one fails by itself; if the database itself failed, they all fail at once
     * rather than each waiting out the outage again.
     */
    private List<Append> commit(List<Append> batch) {
        for (int attempt = 1; ; attempt++) {
            try {
                write(batch);
                countCommit(batch.size());
                batch.forEach(append -> append.finish(null));
                return batch;
            } catch (ChainMovedException e) {
                if (attempt < MAX_ATTEMPTS) {
                    continue;
                }
                StoreException failure = new StoreException(e.getCause());
                batch.forEach(append -> append.finish(failure));
                return batch;
            } catch (RuntimeException e) {
                if (batch.size() > 1 && blamesOneAppend(e)) {
                    batch.forEach(append -> commit(List.of(append)));
                } else {
                    batch.forEach(append -> append.finish(e));
                }
                return batch;
            }
        }
    }

    private void countCommit(int records) {
        commits.increment();
        appended.add(records);
    }

    /** Transactions committed that appended records (each durable before any of its callers heard back). */
    long commits() {
        return commits.sum();
    }

    /** Records appended by those transactions. */
    long appended() {
        return appended.sum();
    }

    /** SQLState class 22 (data exception) or 23 (constraint violation), or a bug in one append's work. */
    private static boolean blamesOneAppend(RuntimeException e) {
        if (!(e instanceof StoreException) || !(e.getCause() instanceof SQLException sql)) {
            return true;
        }
        String state = sqlState(sql);
        return state != null && (state.startsWith("22") || state.startsWith("23"));
    }

    private void write(List<Append> batch) {
        jdbc.inTransaction(c -> {
            Head head = Head.lock(c);
            // Every append's own writes first, so one that fails (a duplicate serial) fails before any
            // audit row is written, and a duplicate audit id can only mean another writer took it.
            for (Append append : batch) {
                append.alongside.run(c);
            }
            link(c, head, batch.stream().map(append -> append.event).toList());
            return null;
        });
    }

    /**
     * Chains {@code events} after {@code head} in one batch (one round trip to PostgreSQL however
     * many there are) and moves the head row to the last of them; a taken id is reported as
     * {@link ChainMovedException}: the tip moved under us.
     */
    static void link(Connection c, Head head, List<AuditEvent> events) throws SQLException {
        Head tip = head;
        try (PreparedStatement insert = c.prepareStatement("insert into audit_events (id, occurred_at, actor, action,"
                + " target, outcome, reason, previous_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (AuditEvent e : events) {
                tip = add(insert, tip, e);
            }
            insert.executeBatch();
        } catch (SQLException failure) {
            if (isUniqueViolation(failure)) {
                throw new ChainMovedException(failure);
            }
            throw failure;
        }
        tip.store(c);
    }

    /** Binds {@code e} as the record after {@code head} and adds it to the batch; returns the new head. */
    private static Head add(PreparedStatement insert, Head head, AuditEvent e) throws SQLException {
        AuditEvent event = AuditText.stored(new AuditEvent(AuditChain.stored(e.time()), e.actor(), e.action(),
                e.target(), e.outcome(), e.reason()));
        long id = head.lastId() + 1;
        String hash = AuditChain.hash(id, event, head.lastHash());
        insert.setLong(1, id);
        Jdbc.setInstant(insert, 2, event.time());
        insert.setString(3, event.actor());
        insert.setString(4, event.action());
        insert.setString(5, event.target());
        insert.setString(6, event.outcome().name());
        insert.setString(7, event.reason());
        insert.setString(8, head.lastHash());
        insert.setString(9, hash);
        insert.addBatch();
        return new Head(id, hash);
    }

    private static boolean isUniqueViolation(SQLException failure) {
        return UNIQUE_VIOLATION.equals(sqlState(failure));
    }

    /**
     * What went wrong, as SQLState: a batch reports it for the statement in it that failed, which
     * drivers put on the exception, on the next one or on its cause.
     */
    private static String sqlState(SQLException failure) {
        for (SQLException e = failure; e != null; e = e.getNextException()) {
            if (e.getSQLState() != null) {
                return e.getSQLState();
            }
        }
        return failure.getCause() instanceof SQLException cause ? cause.getSQLState() : null;
    }

    /** The chain's newest id and hash: one row, locked by every writer (of every replica). */
    record Head(long lastId, String lastHash) {

        static Head lock(Connection c) throws SQLException {
            // The tip is read from the records themselves: under contention H2 has handed a writer a
            // head row older than the newest commit. Should two writers still pick the same id, the
            // primary key refuses the second, which starts again from the new tip (commit()). One
            // statement, so one round trip to PostgreSQL while the records agree with the head.
            record Locked(Head head, boolean moved, long newest) {
            }
            Locked locked = Jdbc.query(c, "select last_id, last_hash, (select max(id) from audit_events"
                    + " where id > last_id and hash is not null) from audit_head where id = 1 for update", s -> { }, row -> {
                        long newest = row.getLong(3);
                        boolean moved = !row.wasNull();
                        return new Locked(new Head(row.getLong(1), row.getString(2)), moved, newest);
                    }).get(0);
            if (!locked.moved()) {
                return locked.head();
            }
            return Jdbc.query(c, "select id, hash from audit_events where id = ?", s -> s.setLong(1, locked.newest()),
                    row -> new Head(row.getLong(1), row.getString(2))).get(0);
        }

        /**
         * Rewritten at every commit, not only read: on PostgreSQL a writer that waited for the row's
         * lock is handed the row's newest version, while a query of the records in the same
         * statement still sees them as they were before the wait (tried: without this update the
         * second replica kept picking taken ids).
         */
        void store(Connection c) throws SQLException {
            Jdbc.update(c, "update audit_head set last_id = ?, last_hash = ? where id = 1", s -> {
                s.setLong(1, lastId);
                s.setString(2, lastHash);
            });
        }
    }

    /** Another writer's record already has the id this transaction meant to use. */
    private static final class ChainMovedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ChainMovedException(SQLException cause) {
            super(cause);
        }

        @Override
        public synchronized SQLException getCause() {
            return (SQLException) super.getCause();
        }
    }

    /** Thrown inside the transaction to roll back a change that found nothing to do. */
    private static final class Unchanged extends RuntimeException {
        Unchanged() {
            super(null, null, false, false);
        }
    }

    /** What a change refused with (a checked exception), carried out of the transaction it rolls back. */
    private static final class ChangeRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ChangeRefused(Exception refusal) {
            super(refusal);
        }

        @SuppressWarnings("unchecked")
        <E extends Exception> E refusal() {
            return (E) getCause();
        }
    }

    /**
     * One caller's append; its outcome is written under the lock and read by a waiting caller, or
     * {@linkplain #settle settled} into its future by whoever committed it, after the lock.
     */
    private static final class Append {
        final AuditEvent event;
        final Jdbc.Work<?> alongside;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        /** Read by a waiting caller outside the lock. */
        volatile boolean finished;
        RuntimeException failure;

        Append(AuditEvent event, Jdbc.Work<?> alongside) {
            this.event = event;
            this.alongside = alongside;
        }

        void finish(RuntimeException failure) {
            this.failure = failure;
            this.finished = true; // last: whoever reads it true sees the failure too
        }

        void settle() {
            if (failure == null) {
                done.complete(null);
            } else {
                done.completeExceptionally(failure);
            }
        }
    }
}
