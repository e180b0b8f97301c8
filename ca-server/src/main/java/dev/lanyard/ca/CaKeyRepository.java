package dev.lanyard.ca;

import java.util.List;
import java.util.Optional;

/** Durable CA certificates and sealed keys. */
public interface CaKeyRepository {

    void insert(StoredCaKey key);

    /**
     * Moves a key from one status to another only if it is still in {@code from} (a compare-and-set,
     * so replicas cannot both make the move), stamping activation or retirement time.
     */
    boolean updateStatus(String id, StoredCaKey.Status from, StoredCaKey.Status to, java.time.Instant at);

    Optional<StoredCaKey> find(String id);

    /** Every CA key, oldest first. */
    List<StoredCaKey> all();
}
