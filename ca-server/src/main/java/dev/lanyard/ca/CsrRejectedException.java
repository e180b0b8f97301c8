package dev.lanyard.ca;

/** A CSR that is refused, with a reason and a message a person can act on (never the CSR bytes). */
public final class CsrRejectedException extends Exception {

    private static final long serialVersionUID = 1L;

    public enum Reason { TOO_LARGE, MALFORMED, UNSUPPORTED_KEY, BAD_SIGNATURE, DISALLOWED_SAN, DISALLOWED_EXTENSION }

    private final Reason reason;

    public CsrRejectedException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
