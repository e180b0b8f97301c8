package dev.lanyard.audit;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/** The append-only audit trail, hash-chained (see {@link AuditChain}). */
public interface AuditLog {

    /** Appends one record durably before returning. */
    void record(AuditEvent event);

    /**
     * Appends one record without waiting: the future completes once it is durable, or exceptionally
     * if it could not be stored. For callers that must not block (a request on a network thread);
     * what they chain on it must not block either.
     */
    CompletableFuture<Void> recordAsync(AuditEvent event);

    /**
     * Runs {@code work}, which ends with an asynchronous append (a request served on a network thread):
     * a trail that commits appends in groups may hold its next commit back for it, so that requests in
     * progress together share one durable commit.
     */
    default <T> T preparing(java.util.function.Supplier<T> work) {
        return work.get();
    }

    /** A change to the store that is kept only together with its audit record. */
    @FunctionalInterface
    interface Change<T, E extends Exception> {
        T make() throws E;
    }

    /**
     * Makes {@code change} and appends {@code event} in one transaction: both are stored or neither.
     * A change that throws leaves nothing and no record (its caller records the refusal). The change
     * runs on the calling thread while it holds the trail's head, so it must be short and only use the
     * store.
     */
    default <T, E extends Exception> T recordWith(AuditEvent event, Change<T, E> change) throws E {
        return recordWith(result -> event, change);
    }

    /**
     * As {@link #recordWith(AuditEvent, Change)} for a change whose record says what it did: the record
     * is {@code event} of the change's result, appended in the same transaction.
     */
    <T, E extends Exception> T recordWith(Function<T, AuditEvent> event, Change<T, E> change) throws E;

    /**
     * As {@link #recordWith(Function, Change)} for a change that may find nothing to do (another
     * replica did it): when it returns empty, whatever it wrote is rolled back and nothing is recorded.
     */
    <T, E extends Exception> Optional<T> recordIfChanged(Function<T, AuditEvent> event,
            Change<Optional<T>, E> change) throws E;

    /** The newest {@code limit} records, newest first. */
    List<AuditEvent> recent(int limit);

    /** Records with their place in the hash chain, as the query asks. */
    List<AuditRecord> list(AuditQuery query);

    /** How many records match the query's filters (its id bound, order and limit do not apply). */
    long count(AuditQuery query);
}
