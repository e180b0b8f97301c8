package dev.lanyard.ca;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import java.util.List;
import java.util.Optional;

/** Durable CA certificates and the custody ids of their keys. */
public interface CaKeyRepository {

    void insert(StoredCaKey key);

    /**
     * As {@link #insert(StoredCaKey)}, for a rotation step: refused with a
     * {@link dev.lanyard.rotation.LeaseLostException}, storing nothing, unless {@code fence} still
     * holds the rotation lease (a replica that stalled while it made the keys cannot add a second CA).
     */
    void insert(StoredCaKey key, Fence fence);

    /** Notes that a DROPPED key's custody key was destroyed (its row keeps no custody id); false if not DROPPED. */
    boolean keyDestroyed(String id);

    /**
     * Moves a key from one status to another only if it is still in {@code from} (a compare-and-set,
     * so replicas cannot both make the move), stamping activation or retirement time.
     */
    boolean updateStatus(String id, KeyStatus from, KeyStatus to, java.time.Instant at);

    /**
     * In one transaction, only while {@code fence} holds: retires every other active intermediate
     * and activates {@code id} if it is still PREPARED, so there is never a moment without an
     * active CA and a replica that lost the rotation lease cannot activate one.
     *
     * @return false, changing nothing, if {@code id} is not PREPARED
     * @throws dev.lanyard.rotation.LeaseLostException if the fence no longer holds; nothing changed then
     */
    boolean activate(String id, java.time.Instant at, Fence fence);

    Optional<StoredCaKey> find(String id);

    /** Every CA key, oldest first. */
    List<StoredCaKey> all();

    /** Keeps a prepared intermediate key that waits for its certificate. */
    void insertPending(PendingCaKey key);

    /** Keys waiting for a certificate, oldest first. */
    List<PendingCaKey> pending();

    /**
     * In one transaction: stores {@code certified} (the intermediate with the certificate an offline
     * root signed) and forgets the pending key {@code pendingId}.
     *
     * @return false, storing nothing, if {@code pendingId} is no longer pending (imported meanwhile)
     */
    boolean certifyPending(String pendingId, StoredCaKey certified);
}
