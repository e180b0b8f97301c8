package dev.lanyard.client.revocation;

import java.time.Duration;

/** What a verifier asks of the revocation registry; answers come from memory, never a network call. */
public interface RevocationSet {

    /** Nothing is revoked: for verifiers that do not follow a registry. */
    RevocationSet NONE = new RevocationSet() {
        @Override
        public boolean isRevokedJti(String jti) {
            return false;
        }

        @Override
        public boolean isRevokedIdentity(String spiffeId) {
            return false;
        }

        @Override
        public boolean isRevokedSerial(String serialHex) {
            return false;
        }
    };

    boolean isRevokedJti(String jti);

    boolean isRevokedIdentity(String spiffeId);

    /** A certificate serial as hex, any case. */
    boolean isRevokedSerial(String serialHex);

    /**
     * As {@link #isRevokedJti(String)}, for a token of {@code spiffeId}: a set that knows which
     * federated trust domain made a revocation applies it only to that trust domain's tokens.
     */
    default boolean isRevokedJti(String jti, String spiffeId) {
        return isRevokedJti(jti);
    }

    /** As {@link #isRevokedSerial(String)}, for a certificate of {@code spiffeId}, scoped the same way. */
    default boolean isRevokedSerial(String serialHex, String spiffeId) {
        return isRevokedSerial(serialHex);
    }

    /**
     * Waits at most {@code wait} until the revocations in force have been loaded once (a watcher's
     * first catch-up with the stream); true when they are. Until then a verifier refuses every token:
     * one that has just started would otherwise let a revoked caller through. A set held in memory
     * from the start, as this default says, is loaded.
     */
    default boolean awaitLoaded(Duration wait) throws InterruptedException {
        return true;
    }
}
