package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.Pem;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.store.JdbcSealedKeyRepository;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcCaKeyRepository;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.testing.TestCa;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CaKeyStoreTest {

    private final MutableClock clock = new MutableClock(Instant.now());
    private final CryptoProviders crypto = CryptoProviders.select();

    @TempDir
    Path dir;

    @Test
    void savedCaLoadsBackWithWorkingKeys() throws Exception {
        try (Database db = Database.h2File(dir)) {
            PrivateKeySealer sealer = new PrivateKeySealer(
                    KeyEncryptionKey.generateFile(dir.resolve("kek"), new SecureRandom()), new SecureRandom(), crypto);
            SoftwareCustody custody = new SoftwareCustody(new JdbcSealedKeyRepository(db.dataSource()), sealer,
                    crypto.primary(), crypto.bouncyCastle(), clock);
            IssuingCa ca = TestCa.create("example.org", clock, custody);
            // A second custody object on the same tables: keys are found by id, not by object.
            CaKeyStore store = new CaKeyStore(new JdbcCaKeyRepository(db.dataSource()), new SoftwareCustody(
                    new JdbcSealedKeyRepository(db.dataSource()), sealer, crypto.primary(), crypto.bouncyCastle(),
                    clock), crypto, clock);
            assertThat(store.loadActive()).isEmpty();
            store.save(ca);
            IssuingCa loaded = store.loadActive().orElseThrow();
            assertThat(loaded.root().certificate()).isEqualTo(ca.root().certificate());
            assertThat(loaded.intermediate().certificate()).isEqualTo(ca.intermediate().certificate());
            IssuedSvid svid = TestCa.authority(loaded, clock).issue(Csrs.ecP256().getPublic(),
                    SpiffeId.parse("spiffe://example.org/x"), List.of(), Duration.ofMinutes(5));
            svid.certificate().verify(ca.intermediate().certificate().getPublicKey());
            assertThat(new JdbcCaKeyRepository(db.dataSource()).all()).extracting(k -> k.custodyKeyId().orElseThrow())
                    .containsExactlyInAnyOrder(ca.root().signer().id(), ca.intermediate().signer().id());
        }
    }

    @Test
    void importChecksWhatItIsGiven() {
        TestCa.External external = TestCa.external("example.org", clock);
        IssuingCa ca = external.ca();
        TestCa.External other = TestCa.external("example.org", clock);
        String root = Pem.certificates(List.of(ca.root().certificate()));
        String intermediate = Pem.certificates(List.of(ca.intermediate().certificate()));
        String key = Pem.privateKey(external.intermediateKey());
        KeyCustody custody = TestCa.custody(clock);

        IssuingCa imported = CaImporter.fromPem(root, intermediate, key, custody, crypto, clock);
        assertThat(imported.root().hasSigner()).isFalse();
        assertThat(custody.list()).extracting(KeyCustody.KeyEntry::id)
                .containsExactly("ca-imported-" + ca.intermediate().keyId());
        assertThat(imported.intermediate().keyId()).isEqualTo(ca.intermediate().keyId());

        assertThatThrownBy(() -> CaImporter.fromPem(Pem.certificates(List.of(other.ca().root().certificate())),
                intermediate, key, custody, crypto, clock)).hasMessageContaining("not signed by the root");
        assertThatThrownBy(() -> CaImporter.fromPem(root, intermediate,
                Pem.privateKey(other.intermediateKey()), custody, crypto, clock))
                .hasMessageContaining("does not belong");
        assertThatThrownBy(() -> CaImporter.fromPem(root, root + intermediate, key, custody, crypto, clock))
                .hasMessageContaining("exactly one certificate");
        clock.advance(Duration.ofDays(400));
        assertThatThrownBy(() -> CaImporter.fromPem(root, intermediate, key, custody, crypto, clock))
                .hasMessageContaining("not valid now");
    }

    @Test
    void rotationNeedsTheRootKey() {
        IssuingCa ca = TestCa.create("example.org", clock);
        CaGenerator generator = new CaGenerator(TestCa.custody(clock), clock, new SerialNumbers(new SecureRandom(), clock));
        IssuingCa next = generator.intermediateUnder(ca.root(), "example.org", Duration.ofDays(30));
        assertThat(next.intermediate().keyId()).isNotEqualTo(ca.intermediate().keyId());
        IssuingCa offline = new IssuingCa(new CaCertificate(ca.root().certificate(), null, ca.root().keyId()),
                ca.intermediate());
        assertThatThrownBy(() -> generator.intermediateUnder(offline.root(), "example.org", Duration.ofDays(30)))
                .hasMessageContaining("offline");
    }
}
