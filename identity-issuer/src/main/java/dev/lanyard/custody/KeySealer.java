package dev.lanyard.custody;

import java.security.PrivateKey;

/** Encrypts private keys for software custody (the server's envelope encryption implements it). */
public interface KeySealer {

    String seal(PrivateKey key, String keyId);

    PrivateKey open(String sealed, String keyId);

    /**
     * The same sealed key with its data key wrapped under the current key-encryption key, without
     * decrypting the private key; {@code sealed} itself if it is already wrapped so.
     */
    String rewrap(String sealed, String keyId);
}
