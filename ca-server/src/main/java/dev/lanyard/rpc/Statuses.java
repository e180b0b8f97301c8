package dev.lanyard.rpc;

import dev.lanyard.refusal.Refusal;
import io.grpc.Status;
import io.grpc.StatusException;

/** The one place a capability's {@link Refusal} becomes a gRPC status. */
public final class Statuses {

    private Statuses() {
    }

    public static Status of(Refusal refusal) {
        Status status = switch (refusal.code()) {
            case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
            case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
            case NOT_FOUND -> Status.NOT_FOUND;
            case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
            case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
            case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
            case OUT_OF_RANGE -> Status.OUT_OF_RANGE;
            case UNAVAILABLE -> Status.UNAVAILABLE;
        };
        return status.withDescription(refusal.getMessage());
    }

    public static StatusException exception(Refusal refusal) {
        return of(refusal).asException();
    }
}
