package dev.lanyard.contract;

import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;

/** One stored version of a source's descriptor set, as the repository returns it. */
public record StoredContractSet(String source, long version, byte[] descriptorSet, Instant publishedAt) {

    public StoredContractSet {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(publishedAt, "publishedAt");
        descriptorSet = descriptorSet.clone();
    }

    @Override
    public byte[] descriptorSet() {
        return descriptorSet.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StoredContractSet other
                && source.equals(other.source)
                && version == other.version
                && Arrays.equals(descriptorSet, other.descriptorSet)
                && publishedAt.equals(other.publishedAt);
    }

    @Override
    public int hashCode() {
        return Objects.hash(source, version, Arrays.hashCode(descriptorSet), publishedAt);
    }

    @Override
    public String toString() {
        return "StoredContractSet[source=" + source + ", version=" + version
                + ", descriptorSet=" + descriptorSet.length + " bytes, publishedAt=" + publishedAt + "]";
    }
}
