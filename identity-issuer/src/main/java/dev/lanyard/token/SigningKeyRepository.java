package dev.lanyard.token;

import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.List;

/** Durable JWT signing keys, shared by every replica. */
public interface SigningKeyRepository {

    void insert(StoredSigningKey key);

    /**
     * Moves a key from one status to another and stamps the time (activated or retired), only if it
     * is still in {@code from}: a compare-and-set, so two replicas cannot both make the same move.
     */
    boolean updateStatus(String kid, KeyStatus from, KeyStatus to, Instant at);

    /** Every key, oldest first. */
    List<StoredSigningKey> all();

    boolean delete(String kid);
}
