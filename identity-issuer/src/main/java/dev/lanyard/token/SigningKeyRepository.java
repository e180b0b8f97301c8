package dev.lanyard.token;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.List;

/** Durable JWT signing keys, shared by every replica. */
public interface SigningKeyRepository {

    /**
     * Stores a new key, only while {@code fence} holds (checked in the same transaction).
     *
     * @throws dev.lanyard.rotation.LeaseLostException if it does not; nothing is stored then
     */
    void insert(StoredSigningKey key, Fence fence);

    /**
     * In one transaction, only while {@code fence} holds: retires every other active key of the same
     * algorithm and lets
     * {@code kid} sign, if it is still PREPARED. So there is never a moment without an active key,
     * and a replica that lost the lease cannot activate anything.
     *
     * @return false, changing nothing, if {@code kid} is not PREPARED (another replica got there first)
     * @throws dev.lanyard.rotation.LeaseLostException if the fence no longer holds; nothing changed then
     */
    boolean activate(String kid, Instant at, Fence fence);

    /**
     * Moves a key from one status to another and stamps the time (activated or retired), only if it
     * is still in {@code from}: a compare-and-set, so two replicas cannot both make the same move.
     */
    boolean updateStatus(String kid, KeyStatus from, KeyStatus to, Instant at);

    /** Every key, oldest first. */
    List<StoredSigningKey> all();

    boolean delete(String kid);
}
