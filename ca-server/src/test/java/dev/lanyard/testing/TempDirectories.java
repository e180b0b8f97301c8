package dev.lanyard.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Removes a directory a test made outside JUnit's {@code @TempDir} (a server's data directory shared
 * by a class's tests, PostgreSQL's home): they hold private keys, and a PostgreSQL home is 360 MB.
 */
public final class TempDirectories {

    private TempDirectories() {
    }

    /** Deletes {@code dir} and everything under it; nothing if it is null or gone. */
    public static void delete(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
