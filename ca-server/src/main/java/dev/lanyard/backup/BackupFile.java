package dev.lanyard.backup;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Set;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The encrypted backup file: a header (magic, PBKDF2 salt and iterations, a key check, a nonce
 * prefix), then the snapshot in segments of at most 64 KiB, each sealed with AES-256-GCM under a
 * key derived from the operator's passphrase. Each segment's nonce holds its index and whether it is
 * the last one, and every segment authenticates the header (the STREAM construction of Hoang,
 * Reyhanitabar, Rogaway and Vizár): a segment moved, dropped, added or cut off, or a header changed,
 * fails to open. The key check tells a wrong passphrase from an altered file. Nothing is written in
 * clear, and nothing is released from a segment before its tag checked.
 */
public final class BackupFile {

    static final byte[] MAGIC = "LANYARD-BACKUP-1".getBytes(StandardCharsets.US_ASCII);
    static final int SEGMENT = 64 * 1024;
    private static final int TAG_BYTES = 16;
    private static final int SALT_BYTES = 16;
    private static final int NONCE_PREFIX_BYTES = 7;
    private static final int CHECK_BYTES = 16;
    private static final int ITERATIONS = 600_000;
    private static final int MAX_ITERATIONS = 10_000_000;
    private static final int HEADER_BYTES = MAGIC.length + 4 + SALT_BYTES + CHECK_BYTES + NONCE_PREFIX_BYTES;
    private static final int MIN_PASSPHRASE = 12;

    private BackupFile() {
    }

    /**
     * The passphrase in {@code file} (one line; a trailing newline is not part of it). Refused when
     * others than its owner may read it, or when it is shorter than 12 characters.
     */
    public static char[] readPassphrase(Path file) throws IOException {
        Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
        for (PosixFilePermission p : permissions) {
            if (!p.name().startsWith("OWNER")) {
                throw new IOException("passphrase file " + file + " is readable by others ("
                        + PosixFilePermissions.toString(permissions) + "); chmod 600 it");
            }
        }
        String text = Files.readString(file, StandardCharsets.UTF_8).replaceAll("[\r\n]+$", "");
        if (text.length() < MIN_PASSPHRASE) {
            throw new IOException("passphrase file " + file + " holds fewer than " + MIN_PASSPHRASE
                    + " characters; use e.g. `head -c 32 /dev/urandom | base64`");
        }
        return text.toCharArray();
    }

    /** An output stream that encrypts what is written to {@code out}; closing it writes the last segment. */
    public static OutputStream encrypting(OutputStream out, char[] passphrase, SecureRandom random) throws IOException {
        byte[] salt = new byte[SALT_BYTES];
        random.nextBytes(salt);
        byte[] prefix = new byte[NONCE_PREFIX_BYTES];
        random.nextBytes(prefix);
        Keys keys = Keys.derive(passphrase, salt, ITERATIONS);
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).put(MAGIC).putInt(ITERATIONS).put(salt)
                .put(keys.check()).put(prefix);
        out.write(header.array());
        return new Encrypting(out, keys.cipherKey(), header.array(), prefix);
    }

    /** An input stream of what {@link #encrypting} wrote; it throws {@link InvalidBackupException} on any alteration. */
    public static InputStream decrypting(InputStream in, char[] passphrase) throws IOException {
        DataInputStream data = new DataInputStream(in);
        byte[] header = new byte[HEADER_BYTES];
        try {
            data.readFully(header);
        } catch (EOFException e) {
            throw new InvalidBackupException("not a Lanyard backup: the file is shorter than a backup header");
        }
        ByteBuffer b = ByteBuffer.wrap(header);
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new InvalidBackupException("not a Lanyard backup (no LANYARD-BACKUP-1 header)");
        }
        int iterations = b.getInt();
        if (iterations < 100_000 || iterations > MAX_ITERATIONS) {
            throw new InvalidBackupException("the backup header is altered (key derivation with " + iterations
                    + " iterations)");
        }
        byte[] salt = new byte[SALT_BYTES];
        b.get(salt);
        byte[] check = new byte[CHECK_BYTES];
        b.get(check);
        byte[] prefix = new byte[NONCE_PREFIX_BYTES];
        b.get(prefix);
        Keys keys = Keys.derive(passphrase, salt, iterations);
        if (!MessageDigest.isEqual(check, keys.check())) {
            throw new InvalidBackupException("wrong passphrase: this backup was encrypted with another one");
        }
        return new Decrypting(data, keys.cipherKey(), header, prefix);
    }

    /** The AES key and the key check, both from one PBKDF2 output. */
    private record Keys(SecretKeySpec cipherKey, byte[] check) {
        static Keys derive(char[] passphrase, byte[] salt, int iterations) {
            PBEKeySpec spec = new PBEKeySpec(passphrase, salt, iterations, 256);
            try {
                byte[] master = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec(master, "HmacSHA256"));
                byte[] cipherKey = mac.doFinal("lanyard-backup-v1 encryption".getBytes(StandardCharsets.US_ASCII));
                byte[] check = Arrays.copyOf(
                        mac.doFinal("lanyard-backup-v1 key check".getBytes(StandardCharsets.US_ASCII)), CHECK_BYTES);
                Arrays.fill(master, (byte) 0);
                return new Keys(new SecretKeySpec(cipherKey, "AES"), check);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("PBKDF2WithHmacSHA256 or HmacSHA256 is unavailable", e);
            } finally {
                spec.clearPassword();
            }
        }
    }

    private static GCMParameterSpec nonce(byte[] prefix, int index, boolean last) {
        byte[] nonce = ByteBuffer.allocate(12).put(prefix).putInt(index).put((byte) (last ? 1 : 0)).array();
        return new GCMParameterSpec(TAG_BYTES * 8, nonce);
    }

    private static final class Encrypting extends FilterOutputStream {
        private final SecretKeySpec key;
        private final byte[] header;
        private final byte[] prefix;
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(SEGMENT);
        private int index;
        private boolean closed;

        Encrypting(OutputStream out, SecretKeySpec key, byte[] header, byte[] prefix) {
            super(out);
            this.key = key;
            this.header = header;
            this.prefix = prefix;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (buffer.size() == SEGMENT) {
                    seal(false); // a full segment is written only once more data follows: the last one is flagged
                }
                int n = Math.min(len, SEGMENT - buffer.size());
                buffer.write(b, off, n);
                off += n;
                len -= n;
            }
        }

        private void seal(boolean last) throws IOException {
            try {
                Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
                cipher.init(Cipher.ENCRYPT_MODE, key, nonce(prefix, index++, last));
                cipher.updateAAD(header);
                byte[] sealed = cipher.doFinal(buffer.toByteArray());
                out.write(ByteBuffer.allocate(4).putInt(sealed.length).array());
                out.write(sealed);
                buffer.reset();
            } catch (GeneralSecurityException e) {
                throw new IOException("cannot encrypt the backup: " + e.getMessage(), e);
            }
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            if (!closed) {
                closed = true;
                seal(true);
                out.close();
            }
        }
    }

    private static final class Decrypting extends InputStream {
        private final DataInputStream in;
        private final SecretKeySpec key;
        private final byte[] header;
        private final byte[] prefix;
        private byte[] plain = new byte[0];
        private int position;
        private int index;
        private boolean lastSeen;
        private byte[] next;

        Decrypting(DataInputStream in, SecretKeySpec key, byte[] header, byte[] prefix) throws IOException {
            this.in = in;
            this.key = key;
            this.header = header;
            this.prefix = prefix;
            this.next = readSegment();
            if (next == null) {
                throw new InvalidBackupException("the backup is truncated: it ends after its header");
            }
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            while (position == plain.length) {
                if (lastSeen) {
                    return -1;
                }
                open();
            }
            int n = Math.min(len, plain.length - position);
            System.arraycopy(plain, position, b, off, n);
            position += n;
            return n;
        }

        /** Opens the segment read ahead; it is the last one exactly when nothing follows it. */
        private void open() throws IOException {
            byte[] sealed = next;
            next = readSegment();
            boolean last = next == null;
            try {
                Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
                cipher.init(Cipher.DECRYPT_MODE, key, nonce(prefix, index, last));
                cipher.updateAAD(header);
                plain = cipher.doFinal(sealed);
                position = 0;
                lastSeen = last;
                index++;
            } catch (AEADBadTagException e) {
                throw new InvalidBackupException(last
                        ? "the backup is truncated or altered: segment " + index + " does not open as the last one"
                        : "the backup is altered: segment " + index + " does not open");
            } catch (GeneralSecurityException e) {
                throw new IOException("cannot decrypt the backup: " + e.getMessage(), e);
            }
        }

        private byte[] readSegment() throws IOException {
            int first = in.read();
            if (first == -1) {
                return null; // a clean end: the segment before was the last
            }
            int length;
            try {
                length = first << 24 | in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
            } catch (EOFException e) {
                throw new InvalidBackupException("the backup is truncated or altered: it ends inside the length of"
                        + " segment " + (index + 1));
            }
            if (length < TAG_BYTES || length > SEGMENT + TAG_BYTES) {
                throw new InvalidBackupException("the backup is altered: segment " + (index + 1)
                        + " claims " + length + " bytes");
            }
            byte[] sealed = new byte[length];
            try {
                in.readFully(sealed);
            } catch (EOFException e) {
                throw new InvalidBackupException("the backup is truncated: it ends inside a segment");
            }
            return sealed;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
