package dev.lanyard.bundle;

import java.util.OptionalLong;

/**
 * Where the sequence of the published bundle is kept, so that every replica serving the same keys
 * serves the same {@code spiffe_sequence}: a federated peer polling them behind one address would
 * otherwise see it go back and forth, and refuse the lower one.
 */
public interface BundleSequences {

    /**
     * The sequence of the bundle whose own content is {@code contentKey}: the one kept for it, or (the
     * content changed) a new one above the kept one and at least {@code floor}, kept from now on.
     */
    long sequenceFor(String contentKey, long floor);

    /** The sequence kept for {@code contentKey}, if the kept one numbers it (read only). */
    OptionalLong kept(String contentKey);
}
