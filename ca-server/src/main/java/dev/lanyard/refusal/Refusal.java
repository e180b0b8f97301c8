package dev.lanyard.refusal;

/**
 * A request a capability will not carry out, with the kind of refusal and a message a person can act
 * on. Never holds a secret. The one refusal type of every capability (issuance, tokens, revocation,
 * registration); the request chain maps it to a gRPC status in one place ({@code rpc.Statuses}).
 */
public final class Refusal extends Exception {

    private static final long serialVersionUID = 1L;

    /**
     * What kind of no it is; mirrors the gRPC status codes used for refusals. UNAVAILABLE is the server's
     * side: something it depends on failed (a cluster's JWKS), not the request; the caller may retry.
     */
    public enum Code {
        INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
        RESOURCE_EXHAUSTED, OUT_OF_RANGE, UNAVAILABLE
    }

    private final Code code;

    public Refusal(Code code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public Code code() {
        return code;
    }

    public static Refusal invalid(String message) {
        return new Refusal(Code.INVALID_ARGUMENT, message);
    }

    public static Refusal denied(String message) {
        return new Refusal(Code.PERMISSION_DENIED, message);
    }

    public static Refusal notFound(String message) {
        return new Refusal(Code.NOT_FOUND, message);
    }

    public static Refusal precondition(String message) {
        return new Refusal(Code.FAILED_PRECONDITION, message);
    }
}
