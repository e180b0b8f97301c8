package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.crypto.KeyEncryptionKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KEK's file or passphrase salt is made once, owner-only and whole, and kept. */
class KekSourceTest {

    @TempDir
    Path dir;

    private final SecureRandom random = new SecureRandom();

    @Test
    void aPassphraseSaltIsWrittenOwnerOnlyOnceAndKept() throws Exception {
        // The surefire configuration sets LANYARD_TEST_KEK_PASSPHRASE.
        ServerConfig config = ServerConfig.dev(dir, 0, 0, Map.of("kek.passphrase-env", "LANYARD_TEST_KEK_PASSPHRASE"));
        KeyEncryptionKey first = KekSource.load(config, random);

        Path salt = dir.resolve(KekSource.PASSPHRASE_SALT_FILE);
        assertThat(Files.readAllBytes(salt)).hasSize(32);
        assertThat(Files.getPosixFilePermissions(salt)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        byte[] saltBytes = Files.readAllBytes(salt);

        assertThat(KekSource.load(config, random).id()).as("the same salt, the same KEK").isEqualTo(first.id());
        assertThat(Files.readAllBytes(salt)).isEqualTo(saltBytes);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly(KekSource.PASSPHRASE_SALT_FILE);
        }
    }

    @Test
    void aKekFileIsMadeOwnerOnlyOnceAndKept() throws Exception {
        ServerConfig config = ServerConfig.dev(dir, 0, 0);
        KeyEncryptionKey first = KekSource.load(config, random);

        assertThat(Files.getPosixFilePermissions(config.kekFile()))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(KekSource.load(config, random).id()).isEqualTo(first.id());
    }
}
