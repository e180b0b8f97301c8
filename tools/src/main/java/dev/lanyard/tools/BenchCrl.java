package dev.lanyard.tools;

import dev.lanyard.ca.CaGenerator;
import dev.lanyard.ca.CrlIssuer;
import dev.lanyard.ca.IssuingCa;
import dev.lanyard.ca.SerialNumbers;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.revocation.CrlPublisher;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.revocation.RevocationRepository.NewRevocation;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcRevocationRepository;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * CRL size and generation time with N live revoked certificates: the server's own CrlPublisher,
 * registry and H2 store (in a temp directory), with a fresh CA; everything but HTTP.
 */
@Command(name = "crl", description = "CRL size and generation time with N live revoked certificates (in-process).")
final class BenchCrl implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Option(names = "--entries", defaultValue = "10000", description = "revoked certificates (default: ${DEFAULT-VALUE})")
    int entries;
    @Option(names = "--runs", defaultValue = "20", description = "generations to time (default: ${DEFAULT-VALUE})")
    int runs;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Clock clock = Clock.systemUTC();
        SecureRandom random = new SecureRandom();
        CryptoProviders crypto = CryptoProviders.select();
        SerialNumbers serials = new SerialNumbers(random, clock);
        IssuingCa ca = new CaGenerator(
                dev.lanyard.custody.Custodies.inMemory(crypto, new java.security.SecureRandom(), clock), clock, serials).generate("bench.local", Duration.ofDays(3650),
                Duration.ofDays(365));
        Path dir = Files.createTempDirectory("lanyard-bench-crl");
        try (Database database = Database.h2File(dir)) {
            JdbcRevocationRepository repository = new JdbcRevocationRepository(database.dataSource());
            Instant now = clock.instant();
            List<NewRevocation> revoked = new ArrayList<>();
            for (int i = 0; i < entries; i++) {
                revoked.add(new NewRevocation(RevocationTarget.serial(serials.next().toString(16)),
                        RevocationReason.KEY_COMPROMISE, "", now, "spiffe://bench.local/admin",
                        "spiffe://bench.local/w/" + i, ca.intermediate().keyId(), Optional.of(now.plus(Duration.ofHours(1)))));
            }
            repository.revoke(revoked);
            RevocationRegistry registry = new RevocationRegistry(repository, clock);
            registry.catchUp();
            CrlPublisher crls = new CrlPublisher(() -> List.of(ca.intermediate()), registry, repository,
                    new CrlIssuer(), Duration.ofHours(24), clock);
            long[] times = new long[runs];
            for (int r = -3; r < runs; r++) { // three warm-up runs
                long start = System.nanoTime();
                crls.regenerate();
                if (r >= 0) {
                    times[r] = System.nanoTime() - start;
                }
            }
            Arrays.sort(times);
            CrlPublisher.Crl crl = crls.forIssuer(ca.intermediate().keyId()).orElseThrow();
            out.printf("CRL with %,d entries: %,d bytes DER (%.1f bytes/entry)%n", crl.entries(), crl.der().length,
                    (double) crl.der().length / Math.max(1, crl.entries()));
            out.printf("  generation (read registry, build, sign, next CRL number): p50 %.1f ms, min %.1f ms, max %.1f ms over %d runs%n",
                    times[runs / 2] / 1e6, times[0] / 1e6, times[runs - 1] / 1e6, runs);
            out.println("  crypto provider: " + crypto.description());
            out.flush();
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }
}
