package dev.lanyard.rpc;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.time.Clock;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit records the chain itself writes: refusals of its own steps and internal failures.
 * Rate-limit refusals are recorded once per caller and minute, with the count of the ones left out
 * since, so a flood cannot turn into a flood of audit rows.
 */
final class ChainAudit {

    private static final Logger LOG = LoggerFactory.getLogger(ChainAudit.class);

    private final AuditLog audit;
    private final Clock clock;
    private final OncePerMinute throttled;

    ChainAudit(AuditLog audit, Clock clock) {
        this.audit = audit;
        this.clock = clock;
        this.throttled = new OncePerMinute(clock);
    }

    /** Completes once the refusal's record is durable (the chain may run on a network thread: it does not wait). */
    CompletableFuture<Void> refused(String actor, String step, String method, String reason) {
        return audit.recordAsync(new AuditEvent(clock.instant(), actor, "rpc." + step, method,
                AuditEvent.Outcome.REFUSED, reason));
    }

    /**
     * Answers a refusal once its audit record is durable, without holding the thread meanwhile. The
     * caller is refused even if the record could not be stored; the log says so.
     */
    static void closeAfter(CompletableFuture<Void> recorded, ServerCall<?, ?> call, Status status) {
        recorded.whenComplete((done, failure) -> {
            if (failure != null) {
                LOG.error("could not audit the refusal of a call to {}", call.getMethodDescriptor().getFullMethodName(),
                        failure);
            }
            call.close(status, new Metadata());
        });
    }

    void failed(String actor, String method, String reason) {
        audit.record(new AuditEvent(clock.instant(), actor, "rpc.failed", method, AuditEvent.Outcome.FAILED, reason));
    }

    /** A rate-limit refusal of {@code key}: recorded if it is the first in this caller's window. */
    CompletableFuture<Void> throttled(String key, String actor, String method, String reason) {
        return throttled("rate-limit", key, actor, method, reason);
    }

    /**
     * A refusal by the limit {@code step} of {@code key}: recorded if it is the first in this caller's
     * window; completes once that record is durable, or at once when it is only counted.
     */
    CompletableFuture<Void> throttled(String step, String key, String actor, String method, String reason) {
        OptionalLong admitted = throttled.admit(key);
        if (admitted.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        long left = admitted.getAsLong();
        return refused(actor, step, method, reason + (left > 0 ? " (" + left
                + " more refusals in the previous window were counted, not recorded)" : "")
                + "; further refusals in the next " + OncePerMinute.QUIET.toSeconds() + " s are counted, not recorded");
    }
}
