package dev.lanyard.bundle;

import java.util.OptionalLong;

/** Keeps the bundle's sequence in memory, as the store's one row does. */
final class FakeBundleSequences implements BundleSequences {

    private String contentKey = "";
    private long sequence;

    @Override
    public synchronized long sequenceFor(String contentKey, long floor) {
        if (!contentKey.equals(this.contentKey)) {
            this.contentKey = contentKey;
            sequence = Math.max(floor, sequence + 1);
        }
        return sequence;
    }

    @Override
    public synchronized OptionalLong kept(String contentKey) {
        return contentKey.equals(this.contentKey) ? OptionalLong.of(sequence) : OptionalLong.empty();
    }
}
