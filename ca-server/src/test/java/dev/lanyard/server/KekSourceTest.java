package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.SealedKeyRepository;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
        KeyEncryptionKey first = KekSource.load(config, random, List.of());

        Path salt = dir.resolve(KekSource.PASSPHRASE_SALT_FILE);
        assertThat(Files.readAllBytes(salt)).hasSize(32);
        assertThat(Files.getPosixFilePermissions(salt)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        byte[] saltBytes = Files.readAllBytes(salt);

        assertThat(KekSource.load(config, random, List.of()).id()).as("the same salt, the same KEK").isEqualTo(first.id());
        assertThat(Files.readAllBytes(salt)).isEqualTo(saltBytes);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly(KekSource.PASSPHRASE_SALT_FILE);
        }
    }

    @Test
    void aKekFileIsMadeOwnerOnlyOnceAndKept() throws Exception {
        ServerConfig config = ServerConfig.dev(dir, 0, 0);
        KeyEncryptionKey first = KekSource.load(config, random, List.of());

        assertThat(Files.getPosixFilePermissions(config.kekFile()))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(KekSource.load(config, random, List.of()).id()).isEqualTo(first.id());
    }

    @Test
    void aStoreThatHoldsSealedKeysGetsNoNewKekFileNorSaltAndTheServerSaysWhichKekItNeeds() throws Exception {
        KeyEncryptionKey kek = KeyEncryptionKey.ephemeral(random);
        List<SealedKeyRepository.SealedKey> sealed = List.of(new SealedKeyRepository.SealedKey("ca-1", Optional.empty(),
                Optional.empty(), new PrivateKeySealer(kek, random, CryptoProviders.select())
                        .seal(dev.lanyard.testing.Csrs.ecP256().getPrivate(), "ca-1"), Instant.now()));

        ServerConfig config = ServerConfig.dev(dir, 0, 0);
        assertThatThrownBy(() -> KekSource.load(config, random, sealed)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("kek.file " + config.kekFile() + " does not exist, and the store holds 1 private"
                        + " keys sealed under key-encryption key " + kek.id() + ": a new KEK could open none of them")
                .hasMessageContaining("Copy the KEK file of the server this store comes from");
        ServerConfig passphrase = ServerConfig.dev(dir, 0, 0, Map.of("kek.passphrase-env", "LANYARD_TEST_KEK_PASSPHRASE"));
        assertThatThrownBy(() -> KekSource.load(passphrase, random, sealed)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith(dir.resolve(KekSource.PASSPHRASE_SALT_FILE) + " does not exist, and the store"
                        + " holds 1 private keys sealed under key-encryption key " + kek.id())
                .hasMessageContaining("Copy kek.salt from the data directory of the server this store comes from");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("neither a KEK file nor a salt was made").isEmpty();
        }
    }
}
