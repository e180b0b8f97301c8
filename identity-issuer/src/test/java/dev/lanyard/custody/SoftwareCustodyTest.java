package dev.lanyard.custody;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class SoftwareCustodyTest {

    private static final Provider BC = new BouncyCastleProvider();
    private static final byte[] DATA = "to be signed".getBytes(StandardCharsets.US_ASCII);

    private final Clock clock = Clock.fixed(Instant.parse("2026-11-30T00:00:00Z"), ZoneOffset.UTC);
    private final InMemorySealedKeyRepository store = new InMemorySealedKeyRepository();
    private final TestSealer sealer = new TestSealer();

    private SoftwareCustody custody() {
        return new SoftwareCustody(store, sealer, BC, BC, clock);
    }

    @ParameterizedTest
    @EnumSource(KeyAlgorithm.class)
    void aGeneratedKeySignsAndAnotherProcessFindsItById(KeyAlgorithm algorithm) throws Exception {
        Signer made = custody().generate("k1", algorithm);
        Signer found = custody().signer("k1");
        assertThat(found.algorithm()).isEqualTo(algorithm);
        assertThat(found.publicKey().getEncoded()).isEqualTo(made.publicKey().getEncoded());
        assertThat(verifies(found, found.sign(DATA))).isTrue();
        assertThat(store.find("k1").orElseThrow().sealed()).doesNotContain(
                java.util.Base64.getEncoder().encodeToString(found.publicKey().getEncoded()));
    }

    @ParameterizedTest
    @EnumSource(KeyAlgorithm.class)
    void oneSignerSignsAgainAndAgainFromSeveralThreadsAtOnce(KeyAlgorithm algorithm) throws Exception {
        Signer signer = custody().generate("shared", algorithm);
        java.util.List<java.util.concurrent.Future<Boolean>> results = new java.util.ArrayList<>();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            for (int i = 0; i < 200; i++) {
                byte[] data = ("message " + i).getBytes(StandardCharsets.US_ASCII);
                results.add(pool.submit(() -> verifies(signer, signer.sign(data), data)));
            }
            for (var result : results) {
                assertThat(result.get()).as("each signature is over its own message").isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anImportedKeyKeepsItsPublicHalfAndAKeyFromAnOldTableGetsOneWorkedOut() throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", BC);
        generator.initialize(new ECGenParameterSpec("secp384r1"));
        var keys = generator.generateKeyPair();
        custody().importKey("imported", KeyAlgorithm.ES384, keys.getPrivate());
        assertThat(custody().signer("imported").publicKey().getEncoded()).isEqualTo(keys.getPublic().getEncoded());
        // What the V70 migration leaves: a sealed key with neither algorithm nor public key.
        store.insert(new SealedKeyRepository.SealedKey("migrated", java.util.Optional.empty(),
                java.util.Optional.empty(), sealer.seal(keys.getPrivate(), "migrated"), clock.instant()));
        Signer migrated = custody().signer("migrated");
        assertThat(migrated.algorithm()).isEqualTo(KeyAlgorithm.ES384);
        assertThat(migrated.publicKey().getEncoded()).isEqualTo(keys.getPublic().getEncoded());
        assertThat(verifies(migrated, migrated.sign(DATA))).isTrue();
    }

    @Test
    void idsAreUniqueUnknownIdsAreNamedAndDestroyedKeysAreGone() {
        SoftwareCustody custody = custody();
        custody.generate("a", KeyAlgorithm.ES256);
        assertThatThrownBy(() -> custody.generate("a", KeyAlgorithm.ES256))
                .isInstanceOf(CustodyException.class).hasMessageContaining("already holds a key with id a");
        assertThatThrownBy(() -> custody.signer("nope"))
                .isInstanceOf(CustodyException.class).hasMessageContaining("no key with id nope");
        assertThat(custody.list()).extracting(KeyCustody.KeyEntry::id).containsExactly("a");
        assertThat(custody.destroy("a")).isTrue();
        assertThat(custody.destroy("a")).isFalse();
        assertThat(custody.list()).isEmpty();
        assertThatThrownBy(() -> custody.signer("a")).isInstanceOf(CustodyException.class);
    }

    private static boolean verifies(Signer signer, byte[] signature) throws Exception {
        return verifies(signer, signature, DATA);
    }

    private static boolean verifies(Signer signer, byte[] signature, byte[] data) throws Exception {
        Signature verifier = Signature.getInstance(signer.algorithm().jcaSignature(), BC);
        if (signer.algorithm().signatureParameters().isPresent()) {
            verifier.setParameter(signer.algorithm().signatureParameters().get());
        }
        verifier.initVerify(signer.publicKey());
        verifier.update(data);
        return verifier.verify(signature);
    }
}
