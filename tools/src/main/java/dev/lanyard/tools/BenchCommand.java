package dev.lanyard.tools;

import com.google.protobuf.ByteString;
import dev.lanyard.ca.IssuanceBenchmark;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.JoinTokenAttestation;
import dev.lanyard.v1.RenewCertificateRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", description = "Measure a running server.", subcommands = BenchCommand.Issue.class)
final class BenchCommand {

    @Command(name = "issue", description = "Certificates per second: mTLS renewals in a closed loop over persistent channels.")
    static final class Issue implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--concurrency", defaultValue = "4", description = "parallel channels (default: ${DEFAULT-VALUE})")
        int concurrency;
        @Option(names = "--duration", defaultValue = "20s", converter = DurationConverter.class,
                description = "how long to measure (default: ${DEFAULT-VALUE})")
        Duration duration;
        @Option(names = "--in-process", description = "measure the crypto limit in this process instead (no server)")
        boolean inProcess;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            if (concurrency < 1 || duration.isNegative() || duration.isZero()) {
                throw new IllegalArgumentException("--concurrency and --duration must be positive");
            }
            if (inProcess) {
                CryptoProviders crypto = CryptoProviders.select();
                IssuanceBenchmark.Result r = IssuanceBenchmark.run(crypto, concurrency, duration);
                print(out, "in-process issuance (parse CSR, check signature, build and sign leaf)", r, crypto.description());
                return 0;
            }
            Credential workload = bootstrapBenchIdentity();
            List<byte[]> csrs = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                KeyPair keys = WorkloadKeys.EC_P256.generate();
                csrs.add(WorkloadKeys.EC_P256.csr(keys, List.of()));
            }
            List<ManagedChannel> channels = new ArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(concurrency);
            try {
                List<CertificateServiceGrpc.CertificateServiceBlockingStub> stubs = new ArrayList<>();
                for (int i = 0; i < concurrency; i++) {
                    ManagedChannel channel = Channels.open(admin.server, workload.bundle(), workload);
                    channels.add(channel);
                    var stub = CertificateServiceGrpc.newBlockingStub(channel);
                    stub.withDeadlineAfter(30, TimeUnit.SECONDS).renewCertificate(request(csrs, 0)); // warm the connection
                    stubs.add(stub);
                }
                long deadline = System.nanoTime() + duration.toNanos();
                List<Future<long[]>> results = new ArrayList<>();
                for (var stub : stubs) {
                    results.add(pool.submit(() -> loop(stub, csrs, deadline)));
                }
                List<long[]> latencies = new ArrayList<>();
                for (Future<long[]> result : results) {
                    latencies.add(result.get());
                }
                print(out, "mTLS renewals against " + admin.server + ", concurrency " + concurrency,
                        IssuanceBenchmark.summarize(latencies, duration), null);
            } finally {
                pool.shutdownNow();
                channels.forEach(ManagedChannel::shutdownNow);
            }
            return 0;
        }

        private static long[] loop(CertificateServiceGrpc.CertificateServiceBlockingStub stub, List<byte[]> csrs,
                long deadline) {
            long[] latencies = new long[1 << 14];
            int n = 0;
            while (System.nanoTime() < deadline) {
                long start = System.nanoTime();
                stub.withDeadlineAfter(30, TimeUnit.SECONDS).renewCertificate(request(csrs, n));
                if (n == latencies.length) {
                    latencies = Arrays.copyOf(latencies, n * 2);
                }
                latencies[n++] = System.nanoTime() - start;
            }
            return Arrays.copyOf(latencies, n);
        }

        private static RenewCertificateRequest request(List<byte[]> csrs, int i) {
            return RenewCertificateRequest.newBuilder().setCsr(ByteString.copyFrom(csrs.get(i % csrs.size()))).build();
        }

        /** Registers spiffe://<td>/lanyard/bench (once) and bootstraps it with a join token. */
        private Credential bootstrapBenchIdentity() throws Exception {
            Credential adminCredential = admin.credential();
            String trustDomain = trustDomainOf(adminCredential);
            String benchId = "spiffe://" + trustDomain + "/lanyard/bench";
            String token = admin.withAdmin(a -> {
                try {
                    a.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(benchId).build());
                } catch (StatusRuntimeException e) {
                    if (e.getStatus().getCode() != Status.Code.ALREADY_EXISTS) {
                        throw e;
                    }
                }
                return a.createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(benchId).build()).getToken();
            });
            KeyPair keys = WorkloadKeys.EC_P256.generate();
            ManagedChannel channel = Channels.open(admin.server, adminCredential.bundle(), null);
            try {
                return CertCommand.credential(keys, CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(30, TimeUnit.SECONDS)
                        .issueCertificate(IssueCertificateRequest.newBuilder()
                                .setAttestation(Attestation.newBuilder().setJoinToken(
                                        JoinTokenAttestation.newBuilder().setToken(token)))
                                .setCsr(ByteString.copyFrom(WorkloadKeys.EC_P256.csr(keys, List.of())))
                                .build()));
            } finally {
                channel.shutdownNow();
            }
        }

        private static String trustDomainOf(Credential credential) throws Exception {
            for (List<?> san : credential.leaf().getSubjectAlternativeNames()) {
                if ((Integer) san.get(0) == 6) {
                    return dev.lanyard.spiffe.SpiffeId.parse((String) san.get(1)).trustDomain();
                }
            }
            throw new IllegalStateException("the admin credential carries no SPIFFE ID");
        }

        private void print(PrintWriter out, String what, IssuanceBenchmark.Result r, String provider) {
            out.printf("%s%n  %,d certificates in %s = %,.0f certificates/s; latency p50 %.2f ms, p99 %.2f ms%n",
                    what, r.issued(), dev.lanyard.server.Durations.format(duration), r.perSecond(),
                    r.p50().toNanos() / 1e6, r.p99().toNanos() / 1e6);
            if (provider != null) {
                out.println("  crypto provider: " + provider);
            }
            out.flush();
        }
    }
}
