package dev.lanyard.crypto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** A file holding a secret (a KEK, an HSM PIN) is read only if nobody but its owner may read or change it. */
public final class OwnerOnlyFile {

    private OwnerOnlyFile() {
    }

    /**
     * Refuses {@code file} when its group or others have any permission on it.
     *
     * @param what how the refusal names the file, e.g. "key-encryption key file"
     */
    public static void require(Path file, String what) throws IOException {
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
        for (PosixFilePermission p : permissions) {
            if (!p.name().startsWith("OWNER")) {
                throw new IOException(what + " " + file + " is readable by others ("
                        + PosixFilePermissions.toString(permissions) + "); chmod 600 it");
            }
        }
    }
}
