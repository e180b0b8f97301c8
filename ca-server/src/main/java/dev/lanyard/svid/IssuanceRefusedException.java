package dev.lanyard.svid;

/**
 * An issuance request that was refused, with the class of refusal the gRPC layer maps to a
 * status and a message a person can act on (never a secret).
 */
public final class IssuanceRefusedException extends Exception {

    private static final long serialVersionUID = 1L;

    /** Mirrors the gRPC status codes used for refusals. */
    public enum Code { INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED }

    private final Code code;

    public IssuanceRefusedException(Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
