package dev.lanyard.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;
import org.h2.store.fs.FilePath;
import org.h2.store.fs.FilePathWrapper;

/**
 * An H2 file system ({@code syncprobe:/path}) that passes everything to the disk and notes, in
 * order, each write to and each force (fsync) of a database file, so a test can see that what a
 * commit wrote was forced before the call returned.
 */
public final class SyncProbeFileSystem extends FilePathWrapper {

    enum Op { WRITE, FORCE }

    private static final List<Op> LOG = new ArrayList<>();

    static void register() {
        FilePath.register(new SyncProbeFileSystem());
    }

    /** What happened to {@code .mv.db} files so far, in order. */
    static synchronized List<Op> log() {
        synchronized (LOG) {
            return List.copyOf(LOG);
        }
    }

    private static void note(Op op) {
        synchronized (LOG) {
            LOG.add(op);
        }
    }

    @Override
    public String getScheme() {
        return "syncprobe";
    }

    @Override
    public FileChannel open(String mode) throws IOException {
        FileChannel channel = getBase().open(mode);
        return name.endsWith(".mv.db") ? new Probe(channel) : channel;
    }

    /** Delegates every call; notes writes and forces. */
    private static final class Probe extends FileChannel {
        private final FileChannel base;

        Probe(FileChannel base) {
            this.base = base;
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            note(Op.WRITE);
            return base.write(src, position);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            note(Op.WRITE);
            return base.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            note(Op.WRITE);
            return base.write(srcs, offset, length);
        }

        @Override
        public void force(boolean metaData) throws IOException {
            base.force(metaData);
            note(Op.FORCE);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return base.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return base.read(dsts, offset, length);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return base.read(dst, position);
        }

        @Override
        public long position() throws IOException {
            return base.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            base.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return base.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            base.truncate(size);
            return this;
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return base.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            note(Op.WRITE);
            return base.transferFrom(src, position, count);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return base.map(mode, position, size);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return base.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return base.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            base.close();
        }
    }
}
