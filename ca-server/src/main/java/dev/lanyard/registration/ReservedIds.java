package dev.lanyard.registration;

import dev.lanyard.spiffe.SpiffeId;

/**
 * {@code spiffe://TD/lanyard/*} belongs to Lanyard's own server, agents and admins: it can never be
 * registered, so no workload can get a certificate that poses as Lanyard.
 */
public final class ReservedIds {

    public static final String PREFIX = "/lanyard/";

    private ReservedIds() {
    }

    public static boolean isReserved(SpiffeId id) {
        return id.path().equals("/lanyard") || id.path().startsWith(PREFIX);
    }
}
