package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.ListAuditRequest;
import dev.lanyard.v1.ListAuditResponse;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Reads the audit trail for admins (behind the admin interceptor); each read is itself audited, and
 * a follow once when it starts (a follower polling ListAudit would add a record every poll).
 */
final class AuditGrpcService extends AuditServiceGrpc.AuditServiceImplBase {

    private static final int DEFAULT_PAGE = 100;
    private static final int MAX_PAGE = 1_000;

    /** How often a follow looks for new records (a read of the newest ids, by index). */
    static final Duration FOLLOW_POLL = Duration.ofMillis(500);

    private final AuditLog audit;
    private final AuditedCall calls;
    private final ScheduledExecutorService followers;

    AuditGrpcService(AuditLog audit, AuditedCall calls, ScheduledExecutorService followers) {
        this.audit = audit;
        this.calls = calls;
        this.followers = followers;
    }

    @Override
    public void followAudit(ListAuditRequest request, StreamObserver<dev.lanyard.v1.AuditRecord> response) {
        ServerCallStreamObserver<dev.lanyard.v1.AuditRecord> call =
                (ServerCallStreamObserver<dev.lanyard.v1.AuditRecord>) response;
        AuditQuery filters;
        try {
            filters = query(request.toBuilder().setNewestFirst(false).setPageSize(AuditFollower.PAGE).build());
        } catch (StatusException e) {
            calls.record("audit.follow", "", e);
            response.onError(e);
            return;
        }
        calls.record("audit.follow", "", null);
        new AuditFollower(audit, afterId -> after(filters, afterId), filters.afterId(), call,
                AuditGrpcService::proto).start(followers, FOLLOW_POLL);
    }

    private static AuditQuery after(AuditQuery q, long afterId) {
        return new AuditQuery(afterId, false, AuditFollower.PAGE, q.actor(), q.actionPrefix(), q.target(), q.outcome(), q.since(),
                q.until());
    }

    @Override
    public void listAudit(ListAuditRequest request, StreamObserver<ListAuditResponse> response) {
        calls.run("audit.list", "", response, () -> {
            AuditQuery query = query(request);
            List<AuditRecord> records = audit.list(query);
            ListAuditResponse.Builder b = ListAuditResponse.newBuilder();
            for (AuditRecord r : records) {
                b.addRecords(proto(r));
            }
            if (records.size() == query.limit()) {
                b.setNextAfterId(records.get(records.size() - 1).id());
            }
            return b.build();
        });
    }

    private static AuditQuery query(ListAuditRequest r) throws StatusException {
        if (r.getPageSize() < 0 || r.getPageSize() > MAX_PAGE) {
            throw AuditedCall.invalid("page_size must be between 0 and " + MAX_PAGE);
        }
        if (r.getAfterId() < 0) {
            throw AuditedCall.invalid("after_id must not be negative");
        }
        Optional<AuditEvent.Outcome> outcome = Optional.empty();
        if (!r.getOutcome().isEmpty()) {
            try {
                outcome = Optional.of(AuditEvent.Outcome.valueOf(r.getOutcome()));
            } catch (IllegalArgumentException e) {
                throw AuditedCall.invalid("outcome must be SUCCESS, REFUSED or FAILED");
            }
        }
        Optional<Instant> since = r.hasSince() ? Optional.of(instant(r.getSince())) : Optional.empty();
        Optional<Instant> until = r.hasUntil() ? Optional.of(instant(r.getUntil())) : Optional.empty();
        if (since.isPresent() && until.isPresent() && !since.get().isBefore(until.get())) {
            throw AuditedCall.invalid("since must be before until");
        }
        return new AuditQuery(r.getAfterId(), r.getNewestFirst(), r.getPageSize() == 0 ? DEFAULT_PAGE : r.getPageSize(),
                text(r.getActor()), text(r.getActionPrefix()), text(r.getTarget()), outcome, since, until);
    }

    private static Optional<String> text(String value) {
        return value.isEmpty() ? Optional.empty() : Optional.of(value);
    }

    private static Instant instant(com.google.protobuf.Timestamp t) {
        return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
    }

    private static dev.lanyard.v1.AuditRecord proto(AuditRecord r) {
        AuditEvent e = r.event();
        return dev.lanyard.v1.AuditRecord.newBuilder()
                .setId(r.id())
                .setTime(Protos.timestamp(e.time()))
                .setActor(e.actor())
                .setAction(e.action())
                .setTarget(e.target())
                .setOutcome(e.outcome().name())
                .setReason(e.reason())
                .setPreviousHash(r.previousHash())
                .setHash(r.hash())
                .build();
    }
}
