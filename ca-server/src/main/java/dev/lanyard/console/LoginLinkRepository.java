package dev.lanyard.console;

import java.time.Instant;
import java.util.Optional;

/** Console login links, stored by the SHA-256 of their secret only. */
public interface LoginLinkRepository {

    /**
     * Who a link logs in: the admin, and the serial and end of validity of the certificate the link was
     * minted with (a session lasts no longer than that certificate).
     */
    record Grant(String adminId, String adminSerialHex, Instant adminNotAfter) {
    }

    void insert(byte[] secretHash, Grant grant, Instant createdAt, Instant expiresAt);

    /**
     * Uses the link once: its grant if it exists, is unused and has not expired at {@code now}; a
     * second call for the same link finds nothing (compare-and-set in the store). A link that does
     * not exist, is used or has expired costs a read and no write.
     */
    Optional<Grant> redeem(byte[] secretHash, Instant now);

    /** Forgets links that expired before {@code cutoff}; how many. */
    int pruneExpired(Instant cutoff);
}
