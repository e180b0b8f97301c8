package dev.lanyard.token;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The signing-key repository contract in memory, for tests of the manager (the JDBC one is tested on
 * H2 and PostgreSQL). One process only: fences are not checked.
 */
public final class InMemorySigningKeyRepository implements SigningKeyRepository {

    private final List<StoredSigningKey> keys = new ArrayList<>();

    @Override
    public synchronized void insert(StoredSigningKey key, Fence fence) {
        keys.add(key);
    }

    @Override
    public synchronized boolean activate(String kid, Instant at, Fence fence) {
        if (keys.stream().noneMatch(k -> k.kid().equals(kid) && k.status() == KeyStatus.PREPARED)) {
            return false;
        }
        SigningAlgorithm algorithm = keys.stream().filter(k -> k.kid().equals(kid)).findFirst().orElseThrow().algorithm();
        for (StoredSigningKey k : List.copyOf(keys)) {
            if (k.status() == KeyStatus.ACTIVE && k.algorithm() == algorithm) {
                updateStatus(k.kid(), KeyStatus.ACTIVE, KeyStatus.RETIRED, at);
            }
        }
        return updateStatus(kid, KeyStatus.PREPARED, KeyStatus.ACTIVE, at);
    }

    @Override
    public synchronized boolean updateStatus(String kid, KeyStatus from, KeyStatus to, Instant at) {
        for (int i = 0; i < keys.size(); i++) {
            StoredSigningKey k = keys.get(i);
            if (k.kid().equals(kid) && k.status() == from) {
                keys.set(i, new StoredSigningKey(k.kid(), k.algorithm(), to, k.publicJwkJson(), k.custodyKeyId(),
                        k.createdAt(), to == KeyStatus.ACTIVE ? Optional.of(at) : k.activatedAt(),
                        to == KeyStatus.RETIRED ? Optional.of(at) : k.retiredAt()));
                return true;
            }
        }
        return false;
    }

    @Override
    public synchronized List<StoredSigningKey> all() {
        return List.copyOf(keys);
    }

    @Override
    public synchronized boolean delete(String kid) {
        return keys.removeIf(k -> k.kid().equals(kid));
    }
}
