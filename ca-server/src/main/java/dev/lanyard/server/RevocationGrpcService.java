package dev.lanyard.server;

import dev.lanyard.audit.AuditText;
import dev.lanyard.rpc.RevocationProtos;
import dev.lanyard.revocation.RevocationWatchers;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationEvent;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.rpc.Statuses;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.revocation.Revoker;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.ListRevocationsResponse;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.ReinstateResponse;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.RevokeResponse;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The revocation registry over gRPC. Revoke, Reinstate and ListRevocations sit behind the admin
 * interceptor and are audited; WatchRevocations needs only a valid workload certificate.
 */
final class RevocationGrpcService extends RevocationServiceGrpc.RevocationServiceImplBase {

    private static final int DEFAULT_PAGE = 100;
    private static final int MAX_PAGE = 1_000;

    private final Revoker revoker;
    private final RevocationRegistry registry;
    private final RevocationWatchers watchers;
    private final AuditedCall calls;
    private final Consumer<RevocationTarget.Kind> onRevoked;

    /** @param onRevoked told of every new revocation (metrics) */
    RevocationGrpcService(Revoker revoker, RevocationRegistry registry, RevocationWatchers watchers, AuditedCall calls,
            Consumer<RevocationTarget.Kind> onRevoked) {
        this.revoker = revoker;
        this.registry = registry;
        this.watchers = watchers;
        this.calls = calls;
        this.onRevoked = onRevoked;
    }

    @Override
    public void revoke(RevokeRequest request, StreamObserver<RevokeResponse> response) {
        String target = describe(request.getTarget());
        String detail = RevocationReason.ofCode(request.getReasonValue()).map(RevocationReason::rfcName)
                .orElse("reason " + request.getReasonValue()) + (request.getNote().isEmpty() ? "" : ": " + request.getNote())
                + (request.getForce() ? " (force=true)" : "");
        calls.runRecording("revocation.revoke", target, detail, response, success -> {
            RevocationTarget parsed = RevocationProtos.target(request.getTarget());
            RevocationReason reason = RevocationProtos.reason(request.getReasonValue());
            Revoker.Result result = refusing(() -> revoker.revoke(parsed, reason, request.getNote(), request.getForce(),
                    success));
            if (result.created()) {
                onRevoked.accept(parsed.kind());
            }
            return RevokeResponse.newBuilder()
                    .setRevocation(RevocationProtos.revocation(result.revocation()))
                    .setCreated(result.created())
                    .addAllRevokedSerials(result.revokedSerials())
                    .build();
        });
    }

    @Override
    public void reinstate(ReinstateRequest request, StreamObserver<ReinstateResponse> response) {
        String target = AuditText.spiffeId(request.getSpiffeId());
        calls.runRecording("revocation.reinstate", target, request.getNote(), response, success -> {
            RevocationEvent.Reinstated reinstated = refusing(
                    () -> revoker.reinstate(request.getSpiffeId(), request.getNote(), success));
            return ReinstateResponse.newBuilder().setSequence(reinstated.sequence()).build();
        });
    }

    @Override
    public void listRevocations(ListRevocationsRequest request, StreamObserver<ListRevocationsResponse> response) {
        calls.run("revocation.list", AuditText.spiffeId(request.getSpiffeId()), response, () -> {
            checkFilter(request.getSpiffeId());
            int size = pageSize(request.getPageSize());
            long after = pageToken(request.getPageToken());
            Optional<RevocationTarget.Kind> kind = kind(request.getKind());
            List<Revocation> matching = registry.inForce().stream()
                    .filter(r -> r.sequence() > after)
                    .filter(r -> kind.map(k -> r.target().kind() == k).orElse(true))
                    .filter(r -> request.getSpiffeId().isEmpty() || request.getSpiffeId().equals(r.spiffeId()))
                    .limit(size + 1L)
                    .toList();
            ListRevocationsResponse.Builder b = ListRevocationsResponse.newBuilder();
            matching.stream().limit(size).forEach(r -> b.addRevocations(RevocationProtos.revocation(r)));
            if (matching.size() > size) {
                b.setNextPageToken(Long.toString(matching.get(size - 1).sequence()));
            }
            return b.build();
        });
    }

    @Override
    public void watchRevocations(WatchRevocationsRequest request,
            StreamObserver<dev.lanyard.v1.RevocationEvent> response) {
        long after = request.getAfterSequence();
        if (after < 0) {
            response.onError(Status.INVALID_ARGUMENT.withDescription("after_sequence must not be negative").asException());
            return;
        }
        try {
            registry.requireHandedOut(after);
        } catch (Refusal e) {
            response.onError(Statuses.exception(e));
            return;
        }
        watchers.watch((ServerCallStreamObserver<dev.lanyard.v1.RevocationEvent>) response, after);
    }

    @FunctionalInterface
    private interface Refusable<T> {
        T call() throws Refusal;
    }

    private static <T> T refusing(Refusable<T> body) throws StatusException {
        try {
            return body.call();
        } catch (Refusal e) {
            throw Statuses.exception(e);
        }
    }

    /** The target for the audit record: only a well-formed one is written (a pasted JWT never is). */
    private static String describe(dev.lanyard.v1.RevocationTarget target) {
        if (target.hasSpiffeId()) {
            return AuditText.spiffeId(target.getSpiffeId()); // a well-formed ID may still hold a token
        }
        try {
            String text = RevocationProtos.target(target).toString();
            return text.length() > 512 ? text.substring(0, 512) + "..." : text;
        } catch (StatusException e) {
            return "invalid " + target.getTargetCase().name().toLowerCase(Locale.ROOT);
        }
    }

    /** Refuses a spiffe_id filter that is no SPIFFE ID rather than list nothing for it. */
    private static void checkFilter(String spiffeId) throws StatusException {
        if (!spiffeId.isEmpty()) {
            try {
                RevocationTarget.spiffeId(spiffeId);
            } catch (IllegalArgumentException e) {
                throw AuditedCall.invalid(e.getMessage());
            }
        }
    }

    private static Optional<RevocationTarget.Kind> kind(String text) throws StatusException {
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(RevocationTarget.Kind.valueOf(text.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            throw AuditedCall.invalid("kind must be serial, spiffe_id or jti");
        }
    }

    private static int pageSize(int requested) throws StatusException {
        if (requested < 0 || requested > MAX_PAGE) {
            throw AuditedCall.invalid("page_size must be between 0 and " + MAX_PAGE);
        }
        return requested == 0 ? DEFAULT_PAGE : requested;
    }

    private static long pageToken(String token) throws StatusException {
        if (token.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(token);
        } catch (NumberFormatException e) {
            throw AuditedCall.invalid("page_token is not one this server handed out");
        }
    }
}
