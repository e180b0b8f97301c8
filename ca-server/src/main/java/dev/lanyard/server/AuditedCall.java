package dev.lanyard.server;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.rpc.Callers;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.time.Clock;

/** Runs one admin RPC body, audits its outcome with the caller's SPIFFE ID, and answers. */
final class AuditedCall {

    @FunctionalInterface
    interface Body<T> {
        T call() throws StatusException;
    }

    /** A body that stores its own SUCCESS record, {@code success}, in the transaction of its change. */
    @FunctionalInterface
    interface RecordingBody<T> {
        T call(AuditEvent success) throws StatusException;
    }

    private final AuditLog audit;
    private final Clock clock;

    AuditedCall(AuditLog audit, Clock clock) {
        this.audit = audit;
        this.clock = clock;
    }

    <T> void run(String action, String target, StreamObserver<T> response, Body<T> body) {
        run(action, target, "", response, body);
    }

    /** As {@link #run(String, String, StreamObserver, Body)}, recording {@code detail} (e.g. a reason) on success too. */
    <T> void run(String action, String target, String detail, StreamObserver<T> response, Body<T> body) {
        answer(action, target, response, () -> {
            T result = body.call();
            audit.record(new AuditEvent(clock.instant(), actor(), action, target, AuditEvent.Outcome.SUCCESS, detail));
            return result;
        });
    }

    /**
     * As {@link #run(String, String, StreamObserver, Body)} for a body that only changes the store: its
     * writes and its SUCCESS record are one transaction ({@link AuditLog#recordWith}), so no crash can
     * keep the change without its record. A refused body leaves nothing but the REFUSED record.
     */
    <T> void runInOneTransaction(String action, String target, StreamObserver<T> response, Body<T> body) {
        runInOneTransaction(action, target, "", response, body);
    }

    /**
     * As {@link #runInOneTransaction(String, String, StreamObserver, Body)}, recording {@code detail} on
     * success too.
     */
    <T> void runInOneTransaction(String action, String target, String detail, StreamObserver<T> response,
            Body<T> body) {
        runRecording(action, target, detail, response, success -> audit.recordWith(success, body::call));
    }

    /**
     * As {@link #runInOneTransaction} for a body that must act between its commit and the answer (a
     * revocation tells its watchers): it is handed the SUCCESS record and stores it with its change.
     */
    <T> void runRecording(String action, String target, String detail, StreamObserver<T> response,
            RecordingBody<T> body) {
        answer(action, target, response, () -> body.call(new AuditEvent(clock.instant(), actor(), action, target,
                AuditEvent.Outcome.SUCCESS, detail)));
    }

    /** Answers with what {@code recorded} returns, or with its refusal, recorded. */
    private <T> void answer(String action, String target, StreamObserver<T> response, Body<T> recorded) {
        try {
            T result = recorded.call();
            response.onNext(result);
            response.onCompleted();
        } catch (StatusException e) {
            record(action, target, e);
            response.onError(e);
        }
    }

    /** Audits a call that answers on its own (a stream): SUCCESS when {@code refusal} is null, else REFUSED. */
    void record(String action, String target, StatusException refusal) {
        audit.record(new AuditEvent(clock.instant(), actor(), action, target,
                refusal == null ? AuditEvent.Outcome.SUCCESS : AuditEvent.Outcome.REFUSED,
                refusal == null ? "" : refusal.getStatus().getCode() + ": " + refusal.getStatus().getDescription()));
    }

    static StatusException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asException();
    }

    static String actor() {
        return Callers.actor();
    }
}
