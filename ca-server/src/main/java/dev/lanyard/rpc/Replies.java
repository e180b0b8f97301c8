package dev.lanyard.rpc;

import dev.lanyard.refusal.Pending;
import dev.lanyard.refusal.Refusal;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Answers a unary call once its capability's future completes, on whichever thread completes it: the
 * result as the reply, a {@link Refusal} as its status, anything else as UNKNOWN, which the request
 * chain turns into INTERNAL with a correlation id (and so it is counted).
 */
public final class Replies {

    private Replies() {
    }

    /** Replies with {@code result} mapped; tells {@code outcome} the status code ("" when OK). */
    public static <T, R> void when(CompletableFuture<T> result, StreamObserver<R> response, Function<T, R> reply,
            Consumer<String> outcome) {
        result.whenComplete((value, failure) -> {
            if (failure == null) {
                response.onNext(reply.apply(value));
                response.onCompleted();
                outcome.accept("");
            } else if (Pending.cause(failure) instanceof Refusal refusal) {
                response.onError(Statuses.exception(refusal));
                outcome.accept(Statuses.of(refusal).getCode().name());
            } else {
                response.onError(Pending.cause(failure));
                outcome.accept(Status.Code.INTERNAL.name());
            }
        });
    }
}
