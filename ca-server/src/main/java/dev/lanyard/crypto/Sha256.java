package dev.lanyard.crypto;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** One SHA-256 digest per thread, kept: looking one up (per certificate, per audit record) costs more than hashing. */
public final class Sha256 {

    private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    });

    private Sha256() {
    }

    /** This thread's digest, reset: {@code digest()} leaves it reset for the next use. */
    public static MessageDigest digest() {
        MessageDigest digest = DIGEST.get();
        digest.reset();
        return digest;
    }
}
