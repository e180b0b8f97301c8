package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.spiffe.SpiffeId;
import java.net.URI;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * The in-process limit of issuance: parse and check a CSR, build and sign the leaf, on N threads,
 * with no network, database or TLS. What `lanyard bench issue --in-process` reports.
 */
public final class IssuanceBenchmark {

    /** Count, rate and latency percentiles of one run. */
    public record Result(long issued, double perSecond, Duration p50, Duration p99) {
    }

    private IssuanceBenchmark() {
    }

    public static Result run(CryptoProviders crypto, int threads, Duration duration) throws InterruptedException {
        Clock clock = Clock.systemUTC();
        SecureRandom random = new SecureRandom();
        SerialNumbers serials = new SerialNumbers(random, clock);
        IssuingCa ca = new CaGenerator(
                dev.lanyard.custody.Custodies.inMemory(crypto, new java.security.SecureRandom(), clock), clock, serials).generate("bench.local", Duration.ofDays(3650),
                Duration.ofDays(365));
        CertificateAuthority authority = new CertificateAuthority(ca, clock, serials,
                URI.create("http://localhost:8080/crl"));
        CsrValidator validator = new CsrValidator(crypto, CsrValidator.DEFAULT_MAX_BYTES);
        SpiffeId id = SpiffeId.parse("spiffe://bench.local/bench/worker");
        List<byte[]> csrs = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            csrs.add(csr());
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            long deadline = System.nanoTime() + duration.toNanos();
            List<Future<long[]>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<long[]> worker = () -> {
                    long[] latencies = new long[1 << 16];
                    int n = 0;
                    while (System.nanoTime() < deadline) {
                        long start = System.nanoTime();
                        ValidatedCsr csr = validator.validate(csrs.get(ThreadLocalRandom.current().nextInt(csrs.size())));
                        authority.issue(csr.publicKey(), id, List.of(), Duration.ofHours(1));
                        if (n == latencies.length) {
                            latencies = Arrays.copyOf(latencies, n * 2);
                        }
                        latencies[n++] = System.nanoTime() - start;
                    }
                    return Arrays.copyOf(latencies, n);
                };
                workers.add(pool.submit(worker));
            }
            List<long[]> all = new ArrayList<>();
            for (Future<long[]> worker : workers) {
                all.add(worker.get());
            }
            return summarize(all, duration);
        } catch (ExecutionException e) {
            throw new IllegalStateException("benchmark worker failed", e.getCause());
        } finally {
            pool.shutdownNow();
        }
    }

    /** Merges per-thread latencies (nanoseconds) into one result. */
    public static Result summarize(List<long[]> latencies, Duration duration) {
        long[] merged = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        if (merged.length == 0) {
            return new Result(0, 0, Duration.ZERO, Duration.ZERO);
        }
        return new Result(merged.length, merged.length / (duration.toNanos() / 1e9),
                Duration.ofNanos(merged[(int) (merged.length * 0.50)]),
                Duration.ofNanos(merged[Math.min(merged.length - 1, (int) (merged.length * 0.99))]));
    }

    private static byte[] csr() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair keys = generator.generateKeyPair();
            return new JcaPKCS10CertificationRequestBuilder(new X500Name(""), keys.getPublic())
                    .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())).getEncoded();
        } catch (GeneralSecurityException | OperatorCreationException | java.io.IOException e) {
            throw new IllegalStateException("cannot make a benchmark CSR", e);
        }
    }
}
