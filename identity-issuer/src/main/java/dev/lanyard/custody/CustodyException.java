package dev.lanyard.custody;

/** A custody cannot do what was asked: no such key, a sealed key that will not open, an HSM error. */
public final class CustodyException extends RuntimeException {

    public CustodyException(String message) {
        super(message);
    }

    public CustodyException(String message, Throwable cause) {
        super(message, cause);
    }
}
