package dev.lanyard.revocation;

import java.time.Instant;

/** One entry of the revocation log: watchers receive these in sequence order. */
public sealed interface RevocationEvent {

    long sequence();

    /** Something was revoked. */
    record Revoked(Revocation revocation) implements RevocationEvent {
        @Override
        public long sequence() {
            return revocation.sequence();
        }
    }

    /** An identity revocation was lifted. */
    record Reinstated(long sequence, String spiffeId, Instant reinstatedAt, String reinstatedBy, String note)
            implements RevocationEvent {
    }
}
