package dev.lanyard.store;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * New files that must survive a power loss once written, because what the database stores next
 * depends on them (a KEK, a passphrase's salt, an audit archive whose records are then deleted).
 * The content goes to a temporary file beside the target, is forced to disk, is linked under the
 * target's name only if no file has it (an existing one is never replaced), and then the directory
 * is forced, so after a crash the target is either absent or whole.
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

    /** @throws java.nio.file.FileAlreadyExistsException if {@code file} exists (it is left as it was) */
    private static void create(Path file, Content content, FileAttribute<?>... attributes) throws IOException {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current()
                .nextLong()) + ".tmp");
        Set<OpenOption> options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            try (FileChannel channel = FileChannel.open(tmp, options, attributes)) {
                OutputStream out = Channels.newOutputStream(channel);
                content.writeTo(out);
                out.flush();
                channel.force(true);
            }
            // link(2), unlike rename(2), fails if the target exists: nothing there is ever replaced.
            Files.createLink(target, tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
        forceDirectory(dir);
    }

    /** Makes the directory's entries (a file just linked or removed there) durable. */
    public static void forceDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }
}
