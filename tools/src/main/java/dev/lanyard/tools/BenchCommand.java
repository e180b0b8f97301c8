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
import java.util.Optional;
import java.util.OptionalDouble;
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

@Command(name = "bench", description = "Measure a running server.",
        subcommands = {BenchCommand.Issue.class, BenchCommand.Token.class, BenchPing.class, BenchRevocations.class, BenchCrl.class, BenchKek.class,
            BenchPreload.class})
final class BenchCommand {

    @Command(name = "issue", description = "Certificates per second: mTLS renewals in a closed loop over persistent channels.")
    static final class Issue implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Mixin
        LoadOptions load;
        @Option(names = "--in-process", description = "measure the crypto limit in this process instead (no server)")
        boolean inProcess;
        @Option(names = "--csrs", defaultValue = "1000",
                description = "distinct keys and CSRs made before the window, used in turn (default: ${DEFAULT-VALUE})")
        int csrCount;
        @Option(names = "--compare-in-process", converter = DurationConverter.class, description = "after the window,"
                + " measure the in-process issuance for this long in this process and print the server's CPU per"
                + " renewal as a multiple of its CPU per certificate (run the bench on the server's machine)")
        Duration compareInProcess;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            load.check();
            if (csrCount < 1) {
                throw new IllegalArgumentException("--csrs must be positive");
            }
            if (compareInProcess != null && (compareInProcess.isNegative() || compareInProcess.isZero())) {
                throw new IllegalArgumentException("--compare-in-process must be positive");
            }
            if (inProcess) {
                CryptoProviders crypto = CryptoProviders.select();
                IssuanceBenchmark.Result r = IssuanceBenchmark.run(crypto, load.concurrency, load.duration);
                print(out, "in-process issuance (parse CSR, check signature, build and sign leaf)", "certificates",
                        load.duration, r, crypto.description());
                return 0;
            }
            String what = "mTLS renewals against " + admin.server + ", concurrency " + load.concurrency + ", after "
                    + dev.lanyard.server.Durations.format(load.warmup) + " warm-up";
            if (load.loader == Loader.go) {
                GoLoader go = locate(load.loaderBinary);
                OptionalDouble serverMs = runGo(out, go, admin, bootstrapBenchIdentity(), List.of("-kind",
                        "issue", "-csrs", Integer.toString(csrCount)), load, what,
                        "certificates", "certificate");
                compare(out, serverMs);
                return 0;
            }
            Credential workload = bootstrapBenchIdentity();
            List<byte[]> csrs = new ArrayList<>();
            for (int i = 0; i < csrCount; i++) {
                KeyPair keys = WorkloadKeys.EC_P256.generate();
                csrs.add(WorkloadKeys.EC_P256.csr(keys, List.of()));
            }
            compare(out, runJava(out, admin, workload, load, what, "certificates", "certificate", (channel, worker) -> {
                var stub = CertificateServiceGrpc.newBlockingStub(channel);
                int[] next = {worker * (csrs.size() / load.concurrency)}; // each channel starts at its own part of the pool
                return () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).renewCertificate(request(csrs, next[0]++));
            }));
            return 0;
        }

        /**
         * With --compare-in-process: the in-process issuance's CPU per certificate on this machine right
         * after the window (the host's speed drifts over minutes), and the server's as a multiple of it.
         */
        private void compare(PrintWriter out, OptionalDouble serverMs) throws InterruptedException {
            if (compareInProcess == null) {
                return;
            }
            CryptoProviders crypto = CryptoProviders.select();
            int threads = Runtime.getRuntime().availableProcessors();
            Duration warmUp = compareInProcess.compareTo(Duration.ofSeconds(5)) < 0 ? compareInProcess
                    : Duration.ofSeconds(5);
            IssuanceBenchmark.run(crypto, threads, warmUp); // compiled first, as the server's issuance is
            long cpuBefore = BenchWindow.processCpuNanos();
            IssuanceBenchmark.Result r = IssuanceBenchmark.run(crypto, threads, compareInProcess);
            double inProcessMs = (BenchWindow.processCpuNanos() - cpuBefore) / 1e6 / Math.max(1, r.issued());
            String ratio = serverMs.isEmpty() ? ""
                    : String.format("; the server's CPU per renewal is %.1f× that", serverMs.getAsDouble() / inProcessMs);
            out.printf("  in-process issuance right after, in this process: %.3f ms of CPU per certificate"
                    + " (%,.0f/s on %d threads)%s%n", inProcessMs, r.perSecond(), threads, ratio);
            out.flush();
        }

        private static RenewCertificateRequest request(List<byte[]> csrs, int i) {
            return RenewCertificateRequest.newBuilder().setCsr(ByteString.copyFrom(csrs.get(i % csrs.size()))).build();
        }

        private Credential bootstrapBenchIdentity() throws Exception {
            return BenchCommand.bootstrapBenchIdentity(admin);
        }
    }

    /** Who makes the load: a Go program (the default, light) or a loop in this JVM. */
    enum Loader { go, java }

    static GoLoader locate(java.nio.file.Path binary) {
        return GoLoader.locate(Optional.ofNullable(binary), Optional.ofNullable(System.getenv("LANYARD_LOADGEN")),
                java.nio.file.Path.of(""));
    }

    /**
     * Runs the Go load generator, reading the server's /metrics around its timed window; prints the report.
     *
     * @return the server's CPU per operation in the window, in ms, when /metrics told it
     */
    static OptionalDouble runGo(PrintWriter out, GoLoader go, AdminOptions admin, Credential workload,
            List<String> kindArgs, LoadOptions load, String what, String units, String unit) throws Exception {
        BenchWindow window = new BenchWindow(Optional.of(load.metricsUrl(admin)));
        BenchWindow.Sample[] samples = new BenchWindow.Sample[2];
        GoLoader.Window sampling = new GoLoader.Window() {
            @Override
            public void started() {
                samples[0] = window.sample();
            }

            @Override
            public void ended() {
                samples[1] = window.sample();
            }
        };
        Duration duration = load.duration;
        GoLoader.Result r = go.run(admin.server, workload, kindArgs, load.concurrency, load.warmup, duration, sampling);
        if (r.errors().containsKey("RESOURCE_EXHAUSTED")) {
            throw rateLimited(unit);
        }
        print(out, what, units, duration, new IssuanceBenchmark.Result(r.operations(),
                r.operations() / (duration.toNanos() / 1e9), Duration.ofNanos(Math.round(r.p50Ms() * 1e6)),
                Duration.ofNanos(Math.round(r.p99Ms() * 1e6))), null);
        if (!r.errors().isEmpty()) {
            out.println("  errors: " + new java.util.TreeMap<>(r.errors()).toString().replaceAll("[{}]", ""));
        }
        BenchWindow.print(out, samples[0], samples[1], Math.max(1, r.operations()), unit,
                Math.round(r.cpuSeconds() * 1e9), " (Go load generator " + go.binary().getFileName() + ")");
        return BenchWindow.serverCpuMs(samples[0], samples[1], r.operations());
    }

    /** One worker's call on its channel. */
    interface ChannelCall {
        Runnable on(ManagedChannel channel, int worker);
    }

    /**
     * The Java loader: one channel per worker, each warmed by one call (it connects, and fails fast if
     * the server refuses us), then the warm-up and the timed window; prints the report.
     *
     * @return the server's CPU per operation in the window, in ms, when /metrics told it
     */
    static OptionalDouble runJava(PrintWriter out, AdminOptions admin, Credential workload, LoadOptions load,
            String what, String units, String unit, ChannelCall calls) throws Exception {
        List<ManagedChannel> channels = new ArrayList<>();
        try {
            List<Runnable> workers = new ArrayList<>();
            for (int w = 0; w < load.concurrency; w++) {
                ManagedChannel channel = Channels.open(admin.server, workload.bundle(), workload);
                channels.add(channel);
                Runnable call = calls.on(channel, w);
                call.run();
                workers.add(call);
            }
            Measured window = measure(load, admin, worker -> workers.get(worker).run(), unit);
            IssuanceBenchmark.Result result = IssuanceBenchmark.summarize(window.latencies(), load.duration);
            print(out, what, units, load.duration, result, null);
            BenchWindow.print(out, window.before(), window.after(), result.issued(), unit);
            return BenchWindow.serverCpuMs(window.before(), window.after(), result.issued());
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
        }
    }

    /** What stopped a bench that ran into a rate limit, with the settings that raise it ({@code unit}: certificate or token). */
    static IllegalStateException rateLimited(String unit) {
        return new IllegalStateException("the server's per-identity rate limit stopped the bench;"
                + " run it against a server with a higher limits.identity-per-second and limits.identity-burst"
                + (unit.equals("token") ? ", and token.rate-per-second and token.burst" : ""));
    }

    /** Registers spiffe://<td>/bench/load (once; /lanyard/* is reserved) and bootstraps it with a join token. */
    static Credential bootstrapBenchIdentity(AdminOptions admin) throws Exception {
        Credential adminCredential = admin.credential();
        String benchId = "spiffe://" + trustDomainOf(adminCredential) + "/bench/load";
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

    static String trustDomainOf(Credential credential) throws Exception {
        for (List<?> san : credential.leaf().getSubjectAlternativeNames()) {
            if ((Integer) san.get(0) == 6) {
                return dev.lanyard.spiffe.SpiffeId.parse((String) san.get(1)).trustDomain();
            }
        }
        throw new IllegalStateException("the admin credential carries no SPIFFE ID");
    }

    /** The server's metrics before and after the timed window, and each worker's latencies in it. */
    record Measured(BenchWindow.Sample before, List<long[]> latencies, BenchWindow.Sample after) {
    }

    /**
     * The Java loader's warm-up, then its timed window between two samples of the server's metrics. A
     * refusal by the per-identity rate limit ends it with the settings that raise the limit.
     */
    static Measured measure(LoadOptions load, AdminOptions admin, java.util.function.IntConsumer call, String unit)
            throws Exception {
        BenchWindow window = new BenchWindow(Optional.of(load.metricsUrl(admin)));
        try {
            if (!load.warmup.isZero()) {
                closedLoop(load.concurrency, load.warmup, call);
            }
            BenchWindow.Sample before = window.sample();
            List<long[]> latencies = closedLoop(load.concurrency, load.duration, call);
            return new Measured(before, latencies, window.sample());
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s
                    && s.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                throw rateLimited(unit);
            }
            throw e;
        }
    }

    /** Runs {@code call} in a closed loop on each of {@code workers} threads until the deadline; latencies in ns. */
    static List<long[]> closedLoop(int workers, Duration duration, java.util.function.IntConsumer call)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        try {
            long deadline = System.nanoTime() + duration.toNanos();
            List<Future<long[]>> results = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                int worker = w;
                results.add(pool.submit(() -> {
                    long[] latencies = new long[1 << 14];
                    int n = 0;
                    while (System.nanoTime() < deadline) {
                        long start = System.nanoTime();
                        call.accept(worker);
                        if (n == latencies.length) {
                            latencies = Arrays.copyOf(latencies, n * 2);
                        }
                        latencies[n++] = System.nanoTime() - start;
                    }
                    return Arrays.copyOf(latencies, n);
                }));
            }
            List<long[]> all = new ArrayList<>();
            for (Future<long[]> result : results) {
                all.add(result.get());
            }
            return all;
        } finally {
            pool.shutdownNow();
        }
    }

    static void print(PrintWriter out, String what, String unit, Duration duration, IssuanceBenchmark.Result r,
            String provider) {
        out.printf("%s%n  %,d %s in %s = %,.0f %s/s; latency p50 %.2f ms, p99 %.2f ms%n",
                what, r.issued(), unit, dev.lanyard.server.Durations.format(duration), r.perSecond(), unit,
                r.p50().toNanos() / 1e6, r.p99().toNanos() / 1e6);
        if (provider != null) {
            out.println("  crypto provider: " + provider);
        }
        out.flush();
    }

    @Command(name = "token", description = "Tokens per second: IssueToken over persistent mTLS channels.")
    static final class Token implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Mixin
        LoadOptions load;
        @Option(names = "--in", description = "the calling workload's credential (default: bootstrap the bench identity)")
        java.nio.file.Path in;
        @Option(names = "--audience", defaultValue = "payments", description = "(default: ${DEFAULT-VALUE})")
        String audience;
        @Option(names = "--scope", defaultValue = "payments.read", description = "(default: ${DEFAULT-VALUE})")
        List<String> scopes;
        @Option(names = "--in-process", description = "measure raw ES256 signatures with the active provider instead")
        boolean inProcess;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            load.check();
            if (inProcess) {
                CryptoProviders crypto = CryptoProviders.select();
                java.security.KeyPairGenerator generator = crypto.keyPairGenerator("EC");
                generator.initialize(new java.security.spec.ECGenParameterSpec("secp256r1"));
                java.security.PrivateKey key = generator.generateKeyPair().getPrivate();
                byte[] message = new byte[300];
                List<long[]> latencies = closedLoop(load.concurrency, load.duration, worker -> {
                    try {
                        java.security.Signature signature = crypto.signature("SHA256withECDSA");
                        signature.initSign(key);
                        signature.update(message);
                        signature.sign();
                    } catch (java.security.GeneralSecurityException e) {
                        throw new IllegalStateException(e);
                    }
                });
                print(out, "raw ES256 signatures, " + load.concurrency + " threads", "signatures", load.duration,
                        IssuanceBenchmark.summarize(latencies, load.duration), crypto.description());
                return 0;
            }
            GoLoader go = load.loader == Loader.go ? locate(load.loaderBinary) : null;
            Credential workload = in != null
                    ? new dev.lanyard.credential.CredentialDirectory(in).read(CryptoProviders.bouncyCastleOnly())
                    : bootstrapBenchIdentity(admin);
            String what = "IssueToken over mTLS against " + admin.server + ", concurrency " + load.concurrency
                    + ", after " + dev.lanyard.server.Durations.format(load.warmup) + " warm-up";
            if (go != null) {
                List<String> args = new ArrayList<>(List.of("-kind", "token", "-audience", audience));
                scopes.forEach(scope -> args.addAll(List.of("-scope", scope)));
                runGo(out, go, admin, workload, args, load, what, "tokens", "token");
                return 0;
            }
            dev.lanyard.v1.IssueTokenRequest request = dev.lanyard.v1.IssueTokenRequest.newBuilder()
                    .setAudience(audience).addAllScopes(scopes).build();
            runJava(out, admin, workload, load, what, "tokens", "token", (channel, worker) -> {
                var stub = dev.lanyard.v1.TokenServiceGrpc.newBlockingStub(channel);
                return () -> stub.withDeadlineAfter(30, TimeUnit.SECONDS).issueToken(request);
            });
            return 0;
        }
    }
}
