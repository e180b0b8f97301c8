package dev.lanyard.custody;

import java.security.PrivateKey;
import java.util.Optional;

/** Encrypts private keys for software custody (the server's envelope encryption implements it). */
public interface KeySealer {

    String seal(PrivateKey key, String keyId);

    PrivateKey open(String sealed, String keyId);

    /**
     * The same sealed key with its data key wrapped under the current key-encryption key, without
     * decrypting the private key; {@code sealed} itself if it is already wrapped so.
     */
    String rewrap(String sealed, String keyId);

    /** The id of the key-encryption key that wrapped {@code sealed}, where its format names one (to say which is missing). */
    default Optional<String> wrappedBy(String sealed, String keyId) {
        return Optional.empty();
    }
}
