package dev.lanyard.crypto;

/** A sealed private key that cannot be opened: wrong KEK, tampered data, or a different key id. */
public final class KeySealException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public KeySealException(String message) {
        super(message);
    }
}
