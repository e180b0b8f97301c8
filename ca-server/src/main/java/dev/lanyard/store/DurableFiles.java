package dev.lanyard.store;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files that must survive a power loss once written, because what happens next depends on them (a
 * KEK, a passphrase's salt, an audit archive whose records are then deleted, a credential the command
 * line said it wrote). The content goes to a temporary file beside the target, created exclusively
 * with its final permissions, is forced to disk, is linked (a new file: an existing one is never
 * replaced) or renamed (a replacement) under the target's name, and then the directory is forced,
 * so after a crash the target is either the old file or the whole new one.
 */
public final class DurableFiles {

    /** Writes a file's content; the stream is closed by the caller. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    private DurableFiles() {
    }

    /** A new file holding {@code content}, with {@code permissions} from its creation. */
    public static void createNew(Path file, byte[] content, Set<PosixFilePermission> permissions) throws IOException {
        create(file, out -> out.write(content), PosixFilePermissions.asFileAttribute(permissions));
    }

    /** A new file holding what {@code content} writes, with the default (umask) permissions. */
    public static void createNew(Path file, Content content) throws IOException {
        create(file, content);
    }

    /**
     * Replaces {@code file} (or creates it) with {@code content}, atomically: a reader sees the old file
     * or the new one, never a part; with {@code permissions} from the temporary file's creation, so a
     * secret is never readable by others, not even before the rename.
     */
    public static void replace(Path file, byte[] content, Set<PosixFilePermission> permissions) throws IOException {
        replace(file, out -> out.write(content), PosixFilePermissions.asFileAttribute(permissions));
    }

    /** As {@link #replace(Path, byte[], Set)}, with the default (umask) permissions. */
    public static void replace(Path file, byte[] content) throws IOException {
        replace(file, out -> out.write(content));
    }

    /**
     * Writes what is to replace {@code file} to a new temporary file beside it, forced to disk, with
     * {@code permissions} from its creation; {@link #commit} renames it into place. Files that must change
     * together are all staged first, so that one that cannot be written (a full disk) changes none.
     */
    public static Path stage(Path file, byte[] content, Set<PosixFilePermission> permissions) throws IOException {
        return written(file.toAbsolutePath(), out -> out.write(content), PosixFilePermissions.asFileAttribute(permissions));
    }

    /** As {@link #stage(Path, byte[], Set)}, with the default (umask) permissions. */
    public static Path stage(Path file, byte[] content) throws IOException {
        return written(file.toAbsolutePath(), out -> out.write(content));
    }

    /** Renames a {@link #stage staged} file over {@code file}, atomically; the caller forces the directory. */
    public static void commit(Path staged, Path file) throws IOException {
        Files.move(staged, file.toAbsolutePath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** @throws java.nio.file.FileAlreadyExistsException if {@code file} exists (it is left as it was) */
    private static void create(Path file, Content content, FileAttribute<?>... attributes) throws IOException {
        Path target = file.toAbsolutePath();
        Path tmp = written(target, content, attributes);
        try {
            // link(2), unlike rename(2), fails if the target exists: nothing there is ever replaced.
            Files.createLink(target, tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
        forceDirectory(target.getParent());
    }

    private static void replace(Path file, Content content, FileAttribute<?>... attributes) throws IOException {
        Path target = file.toAbsolutePath();
        Path tmp = written(target, content, attributes);
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        forceDirectory(target.getParent());
    }

    /** A new temporary file beside {@code target}, made exclusively, holding {@code content} on disk. */
    private static Path written(Path target, Content content, FileAttribute<?>... attributes) throws IOException {
        Path tmp = target.getParent().resolve("." + target.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        Set<OpenOption> options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try (FileChannel channel = FileChannel.open(tmp, options, attributes)) {
            OutputStream out = Channels.newOutputStream(channel);
            content.writeTo(out);
            out.flush();
            channel.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return tmp;
    }

    /**
     * Creates {@code dir} and whichever of its parents are missing, each level made durable in its parent
     * (forcing only the last level's parent would leave the levels above it to be lost in a crash, and the
     * files written below with them). The last level gets {@code permissions} from its creation, the others
     * the default (umask) ones. A level another process creates meanwhile is left to it.
     */
    public static void createDirectories(Path dir, Set<PosixFilePermission> permissions) throws IOException {
        createDirectories(dir, permissions, DurableFiles::forceDirectory);
    }

    /** Makes a directory's entries durable: {@link #forceDirectory}, or a test's record of it. */
    @FunctionalInterface
    interface DirectoryForce {
        void force(Path dir) throws IOException;
    }

    static void createDirectories(Path dir, Set<PosixFilePermission> permissions, DirectoryForce force)
            throws IOException {
        Path target = dir.toAbsolutePath();
        Deque<Path> missing = new ArrayDeque<>();
        for (Path level = target; level != null && !Files.isDirectory(level); level = level.getParent()) {
            missing.push(level);
        }
        while (!missing.isEmpty()) {
            Path level = missing.pop();
            try {
                if (level.equals(target)) {
                    Files.createDirectory(level, PosixFilePermissions.asFileAttribute(permissions));
                } else {
                    Files.createDirectory(level);
                }
            } catch (FileAlreadyExistsException e) {
                if (Files.isDirectory(level)) {
                    continue;
                }
                throw e;
            }
            force.force(level.getParent());
        }
    }

    /** Makes the directory's entries (a file just linked or removed there) durable. */
    public static void forceDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }
}
