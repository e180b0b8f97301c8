package dev.lanyard.token;

import java.security.PrivateKey;

/** Encrypts private keys for storage (the server's envelope encryption implements it). */
public interface KeySealer {

    String seal(PrivateKey key, String keyId);

    PrivateKey open(String sealed, String keyId);
}
