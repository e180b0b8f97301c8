package dev.lanyard.custody;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.testing.SoftHsm;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Key;
import java.security.KeyStore;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.time.Clock;
import java.util.Optional;
import java.util.UUID;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** PKCS#11 custody on a real SoftHSM2 token. */
class Pkcs11CustodyTest {

    private static final Provider BC = new BouncyCastleProvider();
    private static final byte[] DATA = "to be signed in the token".getBytes(StandardCharsets.US_ASCII);

    private static Pkcs11Custody open() {
        return Pkcs11Custody.open(new Pkcs11Custody.Settings(SoftHsm.MODULE, Optional.of(SoftHsm.token().slot()), 0,
                SoftHsm.PIN.toCharArray()), Clock.systemUTC());
    }

    @ParameterizedTest
    @EnumSource(value = KeyAlgorithm.class, names = {"ES256", "ES384", "RS256", "PS256"})
    void keysAreMadeInTheTokenSignThereAndAreFoundAgainByIdAfterARestart(KeyAlgorithm algorithm) throws Exception {
        String id = "test-" + UUID.randomUUID();
        Signer made = open().generate(id, algorithm);
        Signer found = open().signer(id);
        assertThat(found.algorithm()).isEqualTo(algorithm);
        assertThat(found.publicKey().getEncoded()).isEqualTo(made.publicKey().getEncoded());
        Signature verifier = Signature.getInstance(algorithm.jcaSignature(), BC);
        algorithm.signatureParameters().ifPresent(p -> {
            try {
                verifier.setParameter(p);
            } catch (java.security.InvalidAlgorithmParameterException e) {
                throw new IllegalStateException(e);
            }
        });
        verifier.initVerify(found.publicKey());
        verifier.update(DATA);
        assertThat(verifier.verify(found.sign(DATA))).isTrue();
        assertThat(open().list()).extracting(KeyCustody.KeyEntry::id).contains(id);

        // The private key is a handle: sensitive, not extractable, no bytes to be had.
        Key handle = tokenKeyStore().getKey(id, null);
        assertThat(handle.getEncoded()).isNull();
        assertThat(handle.toString()).contains("sensitive", "token object");

        assertThat(open().destroy(id)).isTrue();
        assertThatThrownBy(() -> open().signer(id)).isInstanceOf(CustodyException.class)
                .hasMessageContaining("no key with id " + id);
    }

    @Test
    void aKeyAnotherReplicaMadeIsFoundListedAndDestroyedHere() {
        // Two custody objects on one token, as two replicas (or a replica and the server that restarted) have.
        Pkcs11Custody here = open();
        here.list();
        Pkcs11Custody there = open();
        String id = "other-" + UUID.randomUUID();
        Signer made = there.generate(id, KeyAlgorithm.ES256);

        assertThat(here.signer(id).publicKey().getEncoded()).isEqualTo(made.publicKey().getEncoded());
        assertThat(here.list()).extracting(KeyCustody.KeyEntry::id).contains(id);
        assertThatThrownBy(() -> here.generate(id, KeyAlgorithm.ES256)).hasMessageContaining("already holds");
        assertThat(here.destroy(id)).as("destroyed here, not left in the token").isTrue();
        assertThat(open().list()).extracting(KeyCustody.KeyEntry::id).doesNotContain(id);
        assertThatThrownBy(() -> open().signer(id)).hasMessageContaining("no key with id " + id);
    }

    @Test
    void aPinFileOthersMayReadIsRefusedWithoutItsContent(@TempDir Path dir)
            throws Exception {
        Path file = dir.resolve("hsm-pin");
        Files.writeString(file, "8642097531\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> Pkcs11Custody.pin(Optional.empty(), Optional.of(file)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("PKCS#11 PIN file (pkcs11.pin-file) " + file + " is readable by others")
                .hasMessageContaining("chmod 600")
                .hasMessageNotContaining("8642097531");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertThat(Pkcs11Custody.pin(Optional.empty(), Optional.of(file))).isEqualTo("8642097531".toCharArray());
    }

    @Test
    void thePinIsZeroedOnceTheLoginIsDoneOrFailed() {
        char[] pin = SoftHsm.PIN.toCharArray();
        Pkcs11Custody.open(new Pkcs11Custody.Settings(SoftHsm.MODULE, Optional.of(SoftHsm.token().slot()), 0, pin),
                Clock.systemUTC());
        assertThat(pin).containsOnly('\0');
        char[] refused = SoftHsm.PIN.toCharArray();
        assertThatThrownBy(() -> Pkcs11Custody.open(new Pkcs11Custody.Settings(Path.of("/nonexistent/libpkcs11.so"),
                Optional.empty(), 0, refused), Clock.systemUTC())).isInstanceOf(CustodyException.class);
        assertThat(refused).containsOnly('\0');
    }

    @Test
    void aPinFileIsReadIntoABufferThatIsZeroedAfterUse() throws Exception {
        byte[] content = "8642097531\r\nsecond line\n".getBytes(StandardCharsets.UTF_8);
        assertThat(Pkcs11Custody.firstLine(content)).isEqualTo("8642097531".toCharArray());
        assertThat(content).containsOnly((byte) 0);
        byte[] notUtf8 = {(byte) 0xff, '1', '2'};
        assertThatThrownBy(() -> Pkcs11Custody.firstLine(notUtf8)).isInstanceOf(IOException.class);
        assertThat(notUtf8).containsOnly((byte) 0);
    }

    @Test
    void refusesImportsDuplicateIdsAndAMissingModuleWithWhatToDo() {
        Pkcs11Custody custody = open();
        String id = "dup-" + UUID.randomUUID();
        custody.generate(id, KeyAlgorithm.ES256);
        assertThatThrownBy(() -> custody.generate(id, KeyAlgorithm.ES256)).hasMessageContaining("already holds");
        assertThatThrownBy(() -> custody.importKey("x", KeyAlgorithm.ES256, null))
                .hasMessageContaining("takes none from outside");
        // (A wrong PIN cannot be shown in this JVM: PKCS#11 login is per process, and it is logged in already.)
        assertThatThrownBy(() -> Pkcs11Custody.open(new Pkcs11Custody.Settings(Path.of("/nonexistent/libpkcs11.so"),
                Optional.empty(), 0, SoftHsm.PIN.toCharArray()), Clock.systemUTC()))
                .hasMessageContaining("softhsm2");
        custody.destroy(id);
    }

    private static KeyStore tokenKeyStore() throws Exception {
        Provider provider = Security.getProvider("SunPKCS11").configure("--name=inspect\nlibrary=" + SoftHsm.MODULE
                + "\nslot=" + SoftHsm.token().slot() + "\n");
        KeyStore keyStore = KeyStore.getInstance("PKCS11", provider);
        keyStore.load(null, SoftHsm.PIN.toCharArray());
        return keyStore;
    }
}
