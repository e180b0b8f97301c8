package dev.lanyard.tools;

import java.nio.file.Files;
import java.nio.file.Path;

/** Checks on a file named on the command line, before anything is sent. */
final class LocalFile {

    private LocalFile() {
    }

    /** @param what what the file should be, for the hint */
    static void requireReadable(Path file, String what) {
        if (!Files.exists(file)) {
            throw new CliFailure(file.toString(), "no such file", "pass " + what + " (a path relative to "
                    + Path.of("").toAbsolutePath() + " or an absolute one)", ExitCodes.FAILED);
        }
        if (Files.isDirectory(file)) {
            throw new CliFailure(file.toString(), "is a directory, not a file", "pass " + what, ExitCodes.FAILED);
        }
        if (!Files.isReadable(file)) {
            throw new CliFailure(file.toString(), "permission denied", "run as a user that may read it",
                    ExitCodes.FAILED);
        }
    }
}
