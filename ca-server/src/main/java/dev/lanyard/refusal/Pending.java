package dev.lanyard.refusal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;

/** What an asynchronous capability's future failed with, as the synchronous call would have thrown it. */
public final class Pending {

    private Pending() {
    }

    /** Waits for {@code result}; a {@link Refusal} is thrown as itself, anything else unchecked. */
    public static <T> T await(CompletableFuture<T> result) throws Refusal {
        try {
            return result.get();
        } catch (ExecutionException e) {
            throw rethrown(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the store", e);
        }
    }

    /** The failure a future completed with, without the {@link CompletionException} wrapping that chaining adds. */
    public static Throwable cause(Throwable failure) {
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /**
     * {@code result}, or, if it failed with a {@link RefusedInTransaction}, what {@code refused} makes of
     * that; any other failure as it is.
     */
    public static <T> CompletableFuture<T> orIfRefused(CompletableFuture<T> result,
            Function<RefusedInTransaction, CompletableFuture<T>> refused) {
        return result.handle((value, failure) -> {
            if (failure == null) {
                return CompletableFuture.completedFuture(value);
            }
            return cause(failure) instanceof RefusedInTransaction e ? refused.apply(e)
                    : CompletableFuture.<T>failedFuture(cause(failure));
        }).thenCompose(Function.identity());
    }

    private static Refusal rethrown(Throwable failure) throws Refusal {
        Throwable cause = cause(failure);
        if (cause instanceof Refusal refusal) {
            throw refusal;
        }
        if (cause instanceof RuntimeException e) {
            throw e;
        }
        if (cause instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(cause);
    }
}
