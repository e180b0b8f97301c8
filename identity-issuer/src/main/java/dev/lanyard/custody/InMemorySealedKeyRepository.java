package dev.lanyard.custody;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Sealed keys in memory, for tools and tests that run without a database (the server keeps them in JDBC). */
public final class InMemorySealedKeyRepository implements SealedKeyRepository {

    private final Map<String, SealedKey> keys = new ConcurrentHashMap<>();

    @Override
    public boolean insert(SealedKey key) {
        return keys.putIfAbsent(key.id(), key) == null;
    }

    @Override
    public Optional<SealedKey> find(String id) {
        return Optional.ofNullable(keys.get(id));
    }

    @Override
    public List<SealedKey> all() {
        List<SealedKey> all = new ArrayList<>(keys.values());
        all.sort(java.util.Comparator.comparing(SealedKey::createdAt).thenComparing(SealedKey::id));
        return all;
    }

    @Override
    public boolean delete(String id) {
        return keys.remove(id) != null;
    }

    @Override
    public synchronized boolean replaceSealed(String id, String expected, String replacement) {
        SealedKey current = keys.get(id);
        if (current == null || !current.sealed().equals(expected)) {
            return false;
        }
        keys.put(id, new SealedKey(id, current.algorithm(), current.publicKeyDer(), replacement, current.createdAt()));
        return true;
    }
}
