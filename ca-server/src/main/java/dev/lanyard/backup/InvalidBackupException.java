package dev.lanyard.backup;

import java.io.IOException;

/** A backup file that cannot be used: wrong key, truncated, altered, or not a Lanyard backup. The message says which. */
public final class InvalidBackupException extends IOException {

    public InvalidBackupException(String message) {
        super(message);
    }
}
