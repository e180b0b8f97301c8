package dev.lanyard.refusal;

/**
 * Carries a {@link Refusal} found inside a database transaction (an identity revoked while its
 * certificate was being recorded) out of it: the transaction rolls back and the capability that
 * started it refuses with {@link #refusal()}.
 */
public final class RefusedInTransaction extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final Refusal refusal;

    public RefusedInTransaction(Refusal refusal) {
        super(refusal.getMessage(), null, false, false);
        this.refusal = refusal;
    }

    public Refusal refusal() {
        return refusal;
    }
}
