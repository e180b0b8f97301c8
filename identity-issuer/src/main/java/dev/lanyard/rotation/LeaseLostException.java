package dev.lanyard.rotation;

/** A fenced write refused: this replica no longer holds the lease (it expired or another took it). */
public final class LeaseLostException extends RuntimeException {

    public LeaseLostException(Fence fence) {
        super("lease " + fence.lease() + " (token " + fence.token() + ") is no longer held by " + fence.holder()
                + ": another replica may be rotating; nothing was written");
    }
}
