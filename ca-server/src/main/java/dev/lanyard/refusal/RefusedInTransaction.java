package dev.lanyard.refusal;

/**
 * Carries a {@link Refusal} found inside a database transaction (an identity revoked while its
 * certificate was being recorded) out of it: the transaction rolls back and the capability that
 * started it refuses with {@link #refusal()}.
 */
public final class RefusedInTransaction extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final Refusal refusal;
    private final boolean retryable;

    public RefusedInTransaction(Refusal refusal) {
        this(refusal, false);
    }

    private RefusedInTransaction(Refusal refusal, boolean retryable) {
        super(refusal.getMessage(), null, false, false);
        this.refusal = refusal;
        this.retryable = retryable;
    }

    /** A refusal because what the request was decided on changed meanwhile: deciding again may succeed. */
    public static RefusedInTransaction retryable(Refusal refusal) {
        return new RefusedInTransaction(refusal, true);
    }

    public Refusal refusal() {
        return refusal;
    }

    public boolean retryable() {
        return retryable;
    }
}
