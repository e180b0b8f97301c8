package dev.lanyard.attest;

/** An attestation that does not prove an identity. The message never contains the evidence. */
public final class AttestationException extends Exception {

    private static final long serialVersionUID = 1L;

    public enum Reason { MISSING, MALFORMED, UNKNOWN, EXPIRED, USED, UNSUPPORTED_KIND }

    private final Reason reason;

    public AttestationException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
