package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new file appears whole, with its permissions from the start, and never replaces one that is there;
 * a replacement appears whole too, with its permissions from the start.
 */
class DurableFilesTest {

    @TempDir
    Path dir;

    /** Each level created is made durable in its parent, not only the last one; levels already there are not touched. */
    @Test
    void everyNewDirectoryLevelIsForcedInItsParent() throws Exception {
        List<Path> forced = new ArrayList<>();
        Path credential = dir.resolve("a").resolve("b").resolve("credential");

        DurableFiles.createDirectories(credential, PosixFilePermissions.fromString("rwx------"), forced::add);

        assertThat(forced).containsExactly(dir, dir.resolve("a"), dir.resolve("a/b"));
        assertThat(Files.getPosixFilePermissions(credential)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
        forced.clear();
        DurableFiles.createDirectories(dir.resolve("a/b/other"), PosixFilePermissions.fromString("rwx------"),
                forced::add);
        assertThat(forced).containsExactly(dir.resolve("a/b"));
        forced.clear();
        DurableFiles.createDirectories(credential, PosixFilePermissions.fromString("rwx------"), forced::add);
        assertThat(forced).isEmpty();
    }

    @Test
    void aNewFileHoldsItsContentWithItsPermissionsAndNothingIsLeftBesideIt() throws Exception {
        Path file = dir.resolve("secret");
        DurableFiles.createNew(file, "abc\n".getBytes(StandardCharsets.US_ASCII),
                PosixFilePermissions.fromString("rw-------"));

        assertThat(Files.readString(file)).isEqualTo("abc\n");
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(names()).containsExactly("secret");
    }

    @Test
    void streamedContentIsWrittenWhole() throws Exception {
        Path file = dir.resolve("archive.txt");
        DurableFiles.createNew(file, out -> {
            for (int i = 0; i < 10_000; i++) {
                out.write(("line " + i + "\n").getBytes(StandardCharsets.UTF_8));
            }
        });
        try (Stream<String> lines = Files.lines(file)) {
            assertThat(lines.count()).isEqualTo(10_000);
        }
        assertThat(names()).containsExactly("archive.txt");
    }

    @Test
    void anExistingFileIsNeverReplaced() throws Exception {
        Path file = dir.resolve("kek");
        Files.writeString(file, "keep me");
        assertThatThrownBy(() -> DurableFiles.createNew(file, new byte[] {1, 2, 3},
                PosixFilePermissions.fromString("rw-------"))).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.readString(file)).isEqualTo("keep me");
        assertThat(names()).as("the temporary file is removed").containsExactly("kek");
    }

    @Test
    void aFailedWriteLeavesNoFile() throws Exception {
        Path file = dir.resolve("half");
        assertThatThrownBy(() -> DurableFiles.createNew(file, out -> {
            out.write(new byte[] {1});
            throw new java.io.IOException("disk full");
        })).hasMessage("disk full");
        assertThat(names()).isEmpty();
    }

    @Test
    void aReplacementIsWholeWithItsPermissionsFromTheStartAndLeavesNothingBesideIt() throws Exception {
        Path file = dir.resolve("key.pem");
        DurableFiles.replace(file, "old\n".getBytes(StandardCharsets.US_ASCII), PosixFilePermissions.fromString("rw-------"));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        DurableFiles.replace(file, "new\n".getBytes(StandardCharsets.US_ASCII), PosixFilePermissions.fromString("rw-------"));

        assertThat(Files.readString(file)).isEqualTo("new\n");
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(names()).containsExactly("key.pem");
    }

    @Test
    void aReplacementThatCannotTakeTheNameLeavesNothingBesideIt() throws Exception {
        Path file = dir.resolve("cert.pem");
        Files.createDirectories(file.resolve("in-the-way"));
        assertThatThrownBy(() -> DurableFiles.replace(file, "new\n".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(java.io.IOException.class);
        assertThat(file.resolve("in-the-way")).isDirectory();
        assertThat(names()).containsExactly("cert.pem");
    }

    private java.util.List<String> names() throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).toList();
        }
    }
}
