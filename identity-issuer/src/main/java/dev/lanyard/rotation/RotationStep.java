package dev.lanyard.rotation;

/** One change the planner asks for. {@code keyId} is empty for PREPARE and BOOTSTRAP (a new key). */
public record RotationStep(Kind kind, String keyId) {

    public enum Kind {
        /** No key at all: make one and let it sign at once (nothing can have cached anything yet). */
        BOOTSTRAP,
        /** Make the next key and publish it without letting it sign. */
        PREPARE,
        /** Let the prepared key sign; the active one retires in the same step. */
        ACTIVATE,
        /** Retire an extra active key (two replicas bootstrapped at once): only the newest signs. */
        RETIRE,
        /** Stop publishing a retired key: everything it signed has expired. */
        DROP
    }

    public static RotationStep of(Kind kind) {
        return new RotationStep(kind, "");
    }
}
