package dev.lanyard.server;

import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * One FollowAudit stream: sends the records after the last one sent, only while gRPC can take more.
 * A follower that stops reading holds nothing here but its position: the store already has the
 * records, and they are read again from there once the client has room (the ready handler).
 */
final class AuditFollower {

    /** Records read from the store at a time; at most one page is in memory per follower. */
    static final int PAGE = 100;

    private final AuditLog audit;
    private final Function<Long, AuditQuery> after;
    private final ServerCallStreamObserver<dev.lanyard.v1.AuditRecord> call;
    private final Function<AuditRecord, dev.lanyard.v1.AuditRecord> proto;
    private long lastSent;
    private boolean ended;
    private volatile ScheduledFuture<?> polling;

    /** @param after the follow's query for the records after an id, {@link #PAGE} at most */
    AuditFollower(AuditLog audit, Function<Long, AuditQuery> after, long afterId,
            ServerCallStreamObserver<dev.lanyard.v1.AuditRecord> call,
            Function<AuditRecord, dev.lanyard.v1.AuditRecord> proto) {
        this.audit = audit;
        this.after = after;
        this.lastSent = afterId;
        this.call = call;
        this.proto = proto;
    }

    /** Must run in the service method: gRPC takes the handlers only before it returns. */
    void start(ScheduledExecutorService followers, Duration poll) {
        call.setOnReadyHandler(() -> followers.execute(this::sendWhileReady));
        call.setOnCancelHandler(this::stop);
        polling = followers.scheduleWithFixedDelay(this::sendWhileReady, 0, poll.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Sends what the follower has not had yet while the call is ready; the ready handler resumes it. */
    synchronized void sendWhileReady() {
        if (ended || call.isCancelled()) {
            return;
        }
        try {
            while (call.isReady()) {
                List<AuditRecord> page = audit.list(after.apply(lastSent));
                for (AuditRecord r : page) {
                    if (!call.isReady() || call.isCancelled()) {
                        return; // the rest of the page is read again from lastSent when there is room
                    }
                    call.onNext(proto.apply(r));
                    lastSent = r.id();
                }
                if (page.size() < PAGE) {
                    return; // caught up: the next poll looks again
                }
            }
        } catch (RuntimeException e) {
            // the store is down or the call went away: the follower reconnects from its last id
            ended = true;
            stop();
            if (!call.isCancelled()) {
                call.onError(Status.UNAVAILABLE.withDescription("cannot read the audit trail").asRuntimeException());
            }
        }
    }

    private void stop() {
        ScheduledFuture<?> p = polling;
        if (p != null) {
            p.cancel(false);
        }
    }
}
