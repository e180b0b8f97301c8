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
                .hasMessageContaining("which this server does not hold");
        assertThatThrownBy(() -> sealer.open(tampered, "key-1")).isInstanceOf(KeySealException.class);
        assertThatThrownBy(() -> sealer.open(sealed, "key-2")).isInstanceOf(KeySealException.class);
        assertThatThrownBy(() -> sealer.open("not base64!", "key-1")).isInstanceOf(KeySealException.class);
    }

    @Test
    void rewrapMovesOnlyTheDataKeyToTheNewKekAndBothKeksOpenDuringTheSwitch() throws Exception {
        KeyEncryptionKey oldKek = KeyEncryptionKey.generateFile(dir.resolve("old"), random);
        KeyEncryptionKey newKek = KeyEncryptionKey.generateFile(dir.resolve("new"), random);
        KekRing ring = new KekRing(oldKek);
        PrivateKeySealer sealer = new PrivateKeySealer(ring, random, crypto);
        java.security.PrivateKey key = Csrs.ecP256().getPrivate();
        String sealed = sealer.seal(key, "key-1");
        assertThat(PrivateKeySealer.kekIdOf(sealed, "key-1")).contains(oldKek.id());
        assertThat(sealer.rewrap(sealed, "key-1")).as("already under the current KEK").isEqualTo(sealed);

        ring.makeCurrent(newKek);
        assertThat(sealer.open(sealed, "key-1").getEncoded()).as("the old KEK stays readable").isEqualTo(key.getEncoded());
        String rewrapped = sealer.rewrap(sealed, "key-1");
        assertThat(PrivateKeySealer.kekIdOf(rewrapped, "key-1")).contains(newKek.id());
        byte[] before = Base64.getDecoder().decode(sealed);
        byte[] after = Base64.getDecoder().decode(rewrapped);
        int tail = before.length - (1 + 8 + 12 + 48);
        assertThat(java.util.Arrays.copyOfRange(after, after.length - tail, after.length))
                .as("the encrypted private key is untouched").isEqualTo(
                        java.util.Arrays.copyOfRange(before, before.length - tail, before.length));
        // A server holding only the new KEK opens the re-wrapped key and not the old record.
        PrivateKeySealer onlyNew = new PrivateKeySealer(newKek, random, crypto);
        assertThat(onlyNew.open(rewrapped, "key-1").getEncoded()).isEqualTo(key.getEncoded());
        assertThatThrownBy(() -> onlyNew.open(sealed, "key-1")).hasMessageContaining(oldKek.id());
        assertThat(newKek.toString()).contains(newKek.id()).contains("hidden");
    }

    @Test
    void kekFileIsOwnerOnlyAndNeverOverwritten() throws Exception {
        Path file = dir.resolve("kek");
        KeyEncryptionKey made = KeyEncryptionKey.generateFile(file, random);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        String written = Files.readString(file);
        assertThat(Base64.getDecoder().decode(written.trim())).hasSize(32);
        assertThatThrownBy(() -> KeyEncryptionKey.generateFile(file, random)).hasMessageContaining("refusing to overwrite");
        assertThat(Files.readString(file)).as("the existing KEK is kept").isEqualTo(written);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("no temporary file left beside it").containsExactly(file);
        }
        assertThat(KeyEncryptionKey.fromFile(file).id()).isEqualTo(made.id());
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
