package dev.lanyard.attest;

/** An attestation that does not prove an identity. The message never contains the evidence. */
public final class AttestationException extends Exception {

    private static final long serialVersionUID = 1L;

    /**
     * UNTRUSTED: the evidence does not verify (unknown root, wrong key, bad signature, wrong issuer or
     * audience); DENIED: it verifies but is not allowed here; UNAVAILABLE: it could not be checked, as
     * something the server depends on failed (the cluster's JWKS cannot be fetched): not the evidence's fault.
     */
    public enum Reason { MISSING, MALFORMED, UNKNOWN, EXPIRED, USED, UNSUPPORTED_KIND, UNTRUSTED, DENIED, UNAVAILABLE }

    private final Reason reason;

    public AttestationException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
