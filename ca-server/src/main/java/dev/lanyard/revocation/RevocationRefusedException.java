package dev.lanyard.revocation;

/** A revocation request that cannot be carried out; the message says why and is safe to show. */
public final class RevocationRefusedException extends Exception {

    public enum Code { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION }

    private final Code code;

    public RevocationRefusedException(Code code, String message) {
        super(message);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
