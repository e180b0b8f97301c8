package dev.lanyard.ca;

import java.util.List;
import java.util.Optional;

/** Durable CA certificates and sealed keys. */
public interface CaKeyRepository {

    void insert(StoredCaKey key);

    /** Changes a key's status; false if there is no such key. */
    boolean updateStatus(String id, StoredCaKey.Status status);

    Optional<StoredCaKey> find(String id);

    /** Every CA key, oldest first. */
    List<StoredCaKey> all();
}
