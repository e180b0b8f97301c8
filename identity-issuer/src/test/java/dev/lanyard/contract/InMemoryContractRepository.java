package dev.lanyard.contract;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Keeps every version in memory, with one version counter across sources like the SQL store. */
final class InMemoryContractRepository implements ContractRepository {

    private final Map<String, List<StoredContractSet>> history = new LinkedHashMap<>();
    private long lastVersion;

    @Override
    public synchronized long saveVersion(String source, byte[] descriptorSet, Instant at) {
        long version = ++lastVersion;
        history.computeIfAbsent(source, s -> new ArrayList<>())
                .add(new StoredContractSet(source, version, descriptorSet, at));
        return version;
    }

    @Override
    public synchronized List<StoredContractSet> latestPerSource() {
        return history.values().stream().map(versions -> versions.get(versions.size() - 1)).toList();
    }

    synchronized List<StoredContractSet> history(String source) {
        return List.copyOf(history.getOrDefault(source, List.of()));
    }
}
