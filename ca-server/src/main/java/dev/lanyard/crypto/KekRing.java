package dev.lanyard.crypto;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The key-encryption keys a server can unwrap with: the current one (which wraps every new data
 * key) and, during and after a KEK rotation, earlier ones still readable, found by KEK id.
 */
public final class KekRing {

    private final Map<String, KeyEncryptionKey> byId = new ConcurrentHashMap<>();
    private volatile KeyEncryptionKey current;
    private volatile Runnable refresher = () -> { };

    public KekRing(KeyEncryptionKey current) {
        this.current = current;
        byId.put(current.id(), current);
    }

    public KeyEncryptionKey current() {
        return current;
    }

    /** Keeps {@code kek} readable without wrapping new data keys with it. */
    public void add(KeyEncryptionKey kek) {
        byId.putIfAbsent(kek.id(), kek);
    }

    /** From now on new and re-wrapped data keys are wrapped by {@code kek}; the others stay readable. */
    public synchronized void makeCurrent(KeyEncryptionKey kek) {
        add(kek);
        current = kek;
    }

    /**
     * What {@link #refresh()} runs: looks for a KEK another replica rotated to (KEK rotation sets it,
     * reading the recorded rotation), so this replica seals with it too and opens what it wrapped.
     */
    public void onRefresh(Runnable refresher) {
        this.refresher = refresher;
    }

    /**
     * Picks up a KEK rotation made elsewhere; the sealer calls it before sealing and on an unknown KEK
     * id. Throws {@link KeySealException} if a newer KEK is current but cannot be loaded here.
     */
    public void refresh() {
        refresher.run();
    }

    public Optional<KeyEncryptionKey> find(String id) {
        return Optional.ofNullable(byId.get(id));
    }

    /** The current KEK first, then the others. */
    public List<KeyEncryptionKey> all() {
        List<KeyEncryptionKey> all = new ArrayList<>();
        all.add(current);
        byId.values().stream().filter(k -> k != current).forEach(all::add);
        return all;
    }
}
