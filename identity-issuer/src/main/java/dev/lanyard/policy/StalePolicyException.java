package dev.lanyard.policy;

/** A policy whose version is not greater than the one in force; it would roll grants back. */
public final class StalePolicyException extends RuntimeException {

    private final long offeredVersion;
    private final long currentVersion;

    public StalePolicyException(long offeredVersion, long currentVersion) {
        super("policy version " + offeredVersion + " is not greater than the version in force, " + currentVersion);
        this.offeredVersion = offeredVersion;
        this.currentVersion = currentVersion;
    }

    public long offeredVersion() {
        return offeredVersion;
    }

    public long currentVersion() {
        return currentVersion;
    }
}
