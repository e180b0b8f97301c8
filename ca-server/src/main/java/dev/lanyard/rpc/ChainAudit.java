package dev.lanyard.rpc;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit records the chain itself writes: refusals of its own steps and internal failures.
 * Rate-limit refusals are recorded once per caller and minute, with the count of the ones left out
 * since, so a flood cannot turn into a flood of audit rows.
 */
final class ChainAudit {

    private static final Logger LOG = LoggerFactory.getLogger(ChainAudit.class);

    private static final Duration QUIET = Duration.ofMinutes(1);
    private static final int MAX_TRACKED = 10_000;

    private final AuditLog audit;
    private final Clock clock;
    private final Map<String, Window> throttled = new ConcurrentHashMap<>();

    private static final class Window {
        final Instant start;
        final AtomicLong suppressed = new AtomicLong();

        Window(Instant start) {
            this.start = start;
        }
    }

    ChainAudit(AuditLog audit, Clock clock) {
        this.audit = audit;
        this.clock = clock;
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
        Instant now = clock.instant();
        if (throttled.size() > MAX_TRACKED) {
            throttled.values().removeIf(w -> w.start.plus(QUIET).isBefore(now));
        }
        Window window = throttled.get(key);
        if (window != null && window.start.plus(QUIET).isAfter(now)) {
            window.suppressed.incrementAndGet();
            return CompletableFuture.completedFuture(null);
        }
        Window fresh = new Window(now);
        long left = window == null ? 0 : window.suppressed.get();
        if (window == null ? throttled.putIfAbsent(key, fresh) != null : !throttled.replace(key, window, fresh)) {
            throttled.get(key).suppressed.incrementAndGet(); // another thread opened the window
            return CompletableFuture.completedFuture(null);
        }
        return refused(actor, step, method, reason + (left > 0 ? " (" + left
                + " more refusals in the previous window were counted, not recorded)" : "")
                + "; further refusals in the next " + QUIET.toSeconds() + " s are counted, not recorded");
    }
}
