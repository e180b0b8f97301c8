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
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** Reads the audit trail for admins (behind the admin interceptor); each read is itself audited. */
final class AuditGrpcService extends AuditServiceGrpc.AuditServiceImplBase {

    private static final int DEFAULT_PAGE = 100;
    private static final int MAX_PAGE = 1_000;

    private final AuditLog audit;
    private final AuditedCall calls;

    AuditGrpcService(AuditLog audit, AuditedCall calls) {
        this.audit = audit;
        this.calls = calls;
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
