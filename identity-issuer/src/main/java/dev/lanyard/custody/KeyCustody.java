package dev.lanyard.custody;

import java.security.PrivateKey;
import java.time.Instant;
import java.util.List;

/**
 * Where CA and JWT private keys live: keys are made, found and destroyed by id, and used only
 * through a {@link Signer}. The CA, CRL and token code hold ids and signers, never private keys.
 */
public interface KeyCustody {

    /** What {@link #list()} tells about one key. */
    record KeyEntry(String id, KeyAlgorithm algorithm, Instant createdAt) {
    }

    /** A short name for logs and `keys list` ("software", "pkcs11"). */
    String name();

    /**
     * Makes a new key under {@code id}, inside the custody.
     *
     * @throws CustodyException if the id is taken or the custody cannot make the key
     */
    Signer generate(String id, KeyAlgorithm algorithm);

    /**
     * Takes an existing key (an imported CA's intermediate) into custody under {@code id}.
     *
     * @throws CustodyException if this custody cannot take keys from outside (an HSM that makes its own)
     */
    Signer importKey(String id, KeyAlgorithm algorithm, PrivateKey key);

    /**
     * The signer for a key made earlier, here or by another replica or process.
     *
     * @throws CustodyException if there is no such key, naming the id
     */
    Signer signer(String id);

    /** Every key held, oldest first. */
    List<KeyEntry> list();

    /** Destroys the key; returns false if there was none. */
    boolean destroy(String id);

    /**
     * Lets go of what this process opened of the key (a key another replica dropped and destroyed):
     * the key itself, if still held, is untouched, and a later {@link #signer} opens it again.
     */
    void forget(String id);
}
