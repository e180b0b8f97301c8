package dev.lanyard.attest;

/** An attestation that does not prove an identity. The message never contains the evidence. */
public final class AttestationException extends Exception {

    private static final long serialVersionUID = 1L;

    /** UNTRUSTED: the evidence does not verify (unknown root, wrong key, bad signature, wrong issuer or audience); DENIED: it verifies but is not allowed here. */
    public enum Reason { MISSING, MALFORMED, UNKNOWN, EXPIRED, USED, UNSUPPORTED_KIND, UNTRUSTED, DENIED }

    private final Reason reason;

    public AttestationException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
