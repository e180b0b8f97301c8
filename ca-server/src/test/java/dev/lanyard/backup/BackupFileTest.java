package dev.lanyard.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The encrypted backup file: it opens only whole, unaltered, and with its passphrase. */
class BackupFileTest {

    private static final char[] PASSPHRASE = "correct horse battery staple".toCharArray();
    private static final int HEADER = BackupFile.MAGIC.length + 4 + 16 + 16 + 7;

    @TempDir
    Path dir;

    @Test
    void whatIsWrittenReadsBackAndNothingIsInClear() throws Exception {
        byte[] plain = text(3 * BackupFile.SEGMENT + 123);
        byte[] sealed = seal(plain);
        assertThat(open(sealed, PASSPHRASE)).isEqualTo(plain);
        assertThat(new String(sealed, StandardCharsets.ISO_8859_1)).doesNotContain("spiffe://");
        // a snapshot whose size is a multiple of the segment ends with an empty last segment
        byte[] exact = text(2 * BackupFile.SEGMENT);
        assertThat(open(seal(exact), PASSPHRASE)).isEqualTo(exact);
        assertThat(open(seal(new byte[0]), PASSPHRASE)).isEmpty();
    }

    @Test
    void aWrongPassphraseIsNamedAsSuch() throws Exception {
        byte[] sealed = seal(text(1000));
        assertThatThrownBy(() -> open(sealed, "another passphrase!".toCharArray()))
                .isInstanceOf(InvalidBackupException.class).hasMessageContaining("wrong passphrase");
    }

    @Test
    void aCutMovedAlteredOrExtendedFileDoesNotOpen() throws Exception {
        byte[] plain = text(3 * BackupFile.SEGMENT + 10);
        byte[] sealed = seal(plain);
        int segment = 4 + BackupFile.SEGMENT + 16;
        // cut at a segment boundary: the segments left all open, but the last of them is not flagged last
        byte[] atBoundary = Arrays.copyOf(sealed, HEADER + 2 * segment);
        assertThatThrownBy(() -> open(atBoundary, PASSPHRASE)).isInstanceOf(InvalidBackupException.class)
                .hasMessageContaining("truncated or altered");
        assertThatThrownBy(() -> open(Arrays.copyOf(sealed, sealed.length - 5), PASSPHRASE))
                .isInstanceOf(InvalidBackupException.class).hasMessageContaining("truncated");
        assertThatThrownBy(() -> open(Arrays.copyOf(sealed, HEADER), PASSPHRASE))
                .isInstanceOf(InvalidBackupException.class).hasMessageContaining("ends after its header");
        byte[] flipped = sealed.clone();
        flipped[HEADER + segment + 100] ^= 1;
        assertThatThrownBy(() -> open(flipped, PASSPHRASE)).isInstanceOf(InvalidBackupException.class)
                .hasMessageContaining("altered: segment 1");
        byte[] swapped = sealed.clone();
        System.arraycopy(sealed, HEADER, swapped, HEADER + segment, segment);
        System.arraycopy(sealed, HEADER + segment, swapped, HEADER, segment);
        assertThatThrownBy(() -> open(swapped, PASSPHRASE)).isInstanceOf(InvalidBackupException.class)
                .hasMessageContaining("altered: segment 0");
        byte[] extended = Arrays.copyOf(sealed, sealed.length + segment);
        System.arraycopy(sealed, HEADER, extended, sealed.length, segment);
        assertThatThrownBy(() -> open(extended, PASSPHRASE)).isInstanceOf(InvalidBackupException.class);
        for (int stray = 1; stray <= 4; stray++) { // up to and including a whole length field
            byte[] trailing = Arrays.copyOf(sealed, sealed.length + stray);
            assertThatThrownBy(() -> open(trailing, PASSPHRASE)).as("%d stray bytes", stray)
                    .isInstanceOf(InvalidBackupException.class);
        }
        byte[] header = sealed.clone();
        header[BackupFile.MAGIC.length + 4 + 16 + 16] ^= 1; // the nonce prefix: every segment authenticates it
        assertThatThrownBy(() -> open(header, PASSPHRASE)).isInstanceOf(InvalidBackupException.class)
                .hasMessageContaining("altered: segment 0");
        assertThatThrownBy(() -> open("not a backup at all, just text".getBytes(StandardCharsets.US_ASCII), PASSPHRASE))
                .isInstanceOf(InvalidBackupException.class).hasMessageContaining("not a Lanyard backup");
    }

    @Test
    void thePassphraseFileMustBeOwnerOnlyAndLongEnough() throws Exception {
        Path file = dir.resolve("key");
        Files.writeString(file, "correct horse battery staple\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> BackupFile.readPassphrase(file)).hasMessageContaining("readable by others");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertThat(BackupFile.readPassphrase(file)).isEqualTo(PASSPHRASE);
        Files.writeString(file, "short\n");
        assertThatThrownBy(() -> BackupFile.readPassphrase(file)).hasMessageContaining("fewer than 12 characters");
    }

    private static byte[] text(int length) {
        byte[] line = "spiffe://lanyard.local/ns/shop/sa/api registered\n".getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[length];
        Random random = new Random(7);
        for (int i = 0; i < length; i++) {
            out[i] = (byte) (i % 97 == 0 ? random.nextInt(256) : line[i % line.length]);
        }
        return out;
    }

    private static byte[] seal(byte[] plain) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (OutputStream sealed = BackupFile.encrypting(out, PASSPHRASE, new SecureRandom())) {
            // odd-sized writes cross segment boundaries
            for (int i = 0; i < plain.length; i += 1000) {
                sealed.write(plain, i, Math.min(1000, plain.length - i));
            }
        }
        return out.toByteArray();
    }

    private static byte[] open(byte[] sealed, char[] passphrase) throws IOException {
        try (InputStream in = BackupFile.decrypting(new ByteArrayInputStream(sealed), passphrase)) {
            return in.readAllBytes();
        }
    }
}
