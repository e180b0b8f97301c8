package dev.lanyard.contract;

import java.time.Instant;
import java.util.List;

/** Where published descriptor sets are kept, one version history per source. */
public interface ContractRepository {

    /**
     * Stores a new version of {@code source}'s descriptor set, durably before returning.
     *
     * @return the new version: greater than every version saved before, for any source, so the
     *     highest version is the registry's version and versions order publishes across sources
     */
    long saveVersion(String source, byte[] descriptorSet, Instant at);

    /** The newest version of every source. */
    List<StoredContractSet> latestPerSource();

    /** The highest version stored, 0 if none: a cheap check whether anything was published. */
    default long latestVersion() {
        return latestPerSource().stream().mapToLong(StoredContractSet::version).max().orElse(0);
    }
}
