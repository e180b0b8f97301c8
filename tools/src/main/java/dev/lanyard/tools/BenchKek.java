package dev.lanyard.tools;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KekRing;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.KekRotation;
import dev.lanyard.custody.KeyAlgorithm;
import dev.lanyard.custody.SealedKeyRepository;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcKekRotations;
import dev.lanyard.store.JdbcSealedKeyRepository;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * How long `keys rotate-kek` takes for N sealed keys: the server's KekRotation, software custody and
 * H2 store (in a temp directory). The keys are one P-256 key sealed under N ids, each with its own data
 * key, which is what a rotation touches; making N distinct keys would only time key generation.
 */
@Command(name = "kek", description = "KEK rotation time for N sealed keys (in-process, H2 in a temp directory).")
final class BenchKek implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--keys", defaultValue = "10000", description = "sealed keys in the store (default: ${DEFAULT-VALUE})")
    int keys;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        SecureRandom random = new SecureRandom();
        CryptoProviders crypto = CryptoProviders.select();
        Clock clock = Clock.systemUTC();
        Path dir = Files.createTempDirectory("lanyard-bench-kek");
        try (Database database = Database.h2File(dir)) {
            KekRing keks = new KekRing(KeyEncryptionKey.generateFile(dir.resolve("kek-1"), random));
            PrivateKeySealer sealer = new PrivateKeySealer(keks, random, crypto);
            JdbcSealedKeyRepository store = new JdbcSealedKeyRepository(database.dataSource());
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            var pair = generator.generateKeyPair();
            PrivateKey key = pair.getPrivate();
            String publicKey = Base64.getEncoder().encodeToString(pair.getPublic().getEncoded());
            for (int i = 0; i < keys; i++) {
                String id = "bench-" + i;
                store.insert(new SealedKeyRepository.SealedKey(id, Optional.of(KeyAlgorithm.ES256),
                        Optional.of(publicKey), sealer.seal(key, id), clock.instant()));
            }
            SoftwareCustody custody = new SoftwareCustody(store, sealer, crypto.primary(), crypto.bouncyCastle(), clock);
            KekRotation rotation = new KekRotation(keks, custody, new JdbcKekRotations(database.dataSource()), clock);
            KeyEncryptionKey.generateFile(dir.resolve("kek-2"), random);
            KekRotation.Outcome outcome = rotation.rotate(dir.resolve("kek-2"), new ChangeRecord(
                    new JdbcAuditLog(database.dataSource()), new AuditEvent(clock.instant(), "bench",
                            "keys.rotate-kek", "kek file kek-2", AuditEvent.Outcome.SUCCESS, "")));
            out.printf("rotate-kek: %,d data keys re-wrapped in %,d ms (%.3f ms per key), H2, %s%n",
                    outcome.rewrapped(), outcome.took().toMillis(), outcome.took().toNanos() / 1e6 / outcome.rewrapped(),
                    crypto.description());
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }
}
