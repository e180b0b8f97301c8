package dev.lanyard.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.testing.Csrs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PrivateKeySealerTest {

    private final SecureRandom random = new SecureRandom();
    private final CryptoProviders crypto = CryptoProviders.select();

    @TempDir
    Path dir;

    static Stream<KeyPair> keys() {
        return Stream.of(Csrs.ecP256(), Csrs.generate("RSA", 2048), Csrs.generate("Ed25519", 0));
    }

    @ParameterizedTest
    @MethodSource("keys")
    void roundTripsEveryKeyType(KeyPair keys) throws Exception {
        PrivateKeySealer sealer = new PrivateKeySealer(KeyEncryptionKey.generateFile(dir.resolve("kek"), random),
                random, crypto);
        String sealed = sealer.seal(keys.getPrivate(), "key-1");
        assertThat(sealed).doesNotContain(Base64.getEncoder().encodeToString(keys.getPrivate().getEncoded()));
        assertThat(sealer.open(sealed, "key-1").getEncoded()).isEqualTo(keys.getPrivate().getEncoded());
        assertThat(sealer.seal(keys.getPrivate(), "key-1")).as("fresh data key and nonce").isNotEqualTo(sealed);
    }

    @Test
    void refusesAWrongKekTamperingOrAnotherKeysRecord() throws Exception {
        PrivateKeySealer sealer = new PrivateKeySealer(KeyEncryptionKey.generateFile(dir.resolve("a"), random),
                random, crypto);
        PrivateKeySealer other = new PrivateKeySealer(KeyEncryptionKey.generateFile(dir.resolve("b"), random),
                random, crypto);
        String sealed = sealer.seal(Csrs.ecP256().getPrivate(), "key-1");
        byte[] raw = Base64.getDecoder().decode(sealed);
        raw[raw.length - 20] ^= 1;
        String tampered = Base64.getEncoder().encodeToString(raw);

        assertThatThrownBy(() -> other.open(sealed, "key-1")).isInstanceOf(KeySealException.class)
                .hasMessageContaining("cannot be opened");
        assertThatThrownBy(() -> sealer.open(tampered, "key-1")).isInstanceOf(KeySealException.class);
        assertThatThrownBy(() -> sealer.open(sealed, "key-2")).isInstanceOf(KeySealException.class);
        assertThatThrownBy(() -> sealer.open("not base64!", "key-1")).isInstanceOf(KeySealException.class);
    }

    @Test
    void kekFileIsOwnerOnlyAndNeverOverwritten() throws Exception {
        Path file = dir.resolve("kek");
        KeyEncryptionKey.generateFile(file, random);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> KeyEncryptionKey.generateFile(file, random)).hasMessageContaining("refusing to overwrite");
        KeyEncryptionKey.fromFile(file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> KeyEncryptionKey.fromFile(file)).hasMessageContaining("readable by others");
    }

    @Test
    void passphraseKeysAreDeterministicPerSaltAndNeverShown() {
        byte[] salt = KeyEncryptionKey.newSalt(random);
        KeyEncryptionKey a = KeyEncryptionKey.fromPassphrase("correct horse battery".toCharArray(), salt);
        KeyEncryptionKey b = KeyEncryptionKey.fromPassphrase("correct horse battery".toCharArray(), salt);
        String sealed = new PrivateKeySealer(a, random, crypto).seal(Csrs.ecP256().getPrivate(), "k");
        assertThat(new PrivateKeySealer(b, random, crypto).open(sealed, "k")).isNotNull();
        assertThat(a.toString()).doesNotContain("correct").contains("hidden");
        assertThatThrownBy(() -> KeyEncryptionKey.fromPassphrase("short".toCharArray(), salt))
                .hasMessageContaining("at least 12");
    }
}
