package dev.lanyard.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.testing.TempDirectories;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Root rotation with real clients following WatchTrustBundle: the Go payments and Rust ledger services
 * call each other over mTLS throughout while Lanyard publishes a new root, rotates the intermediate
 * under it, and (once every certificate under the old root has expired) drops the old root. No call
 * fails, neither for want of trust (a handshake, an unknown root) nor for a token bound to another of
 * the caller's certificates than its connection presents: calls pass with the old root only, with both
 * and with the new root only, and both services still renew from Lanyard after the old root is gone.
 * Certificates live 10 s here so the whole rotation fits in about a minute.
 */
class RootRotationTest {

    static final String TD = "lanyard.local";
    static final String PAYMENTS = "spiffe://" + TD + "/ns/payments/sa/api";
    static final String LEDGER = "spiffe://" + TD + "/ns/ledger/sa/api";
    static final String POST_ENTRY = "/examples.ledger.v1.LedgerService/PostEntry";
    static final String CHARGE = "/examples.payments.v1.PaymentsService/Charge";

    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<AutoCloseable> services = new ArrayList<>();
    private final AtomicInteger requestNumber = new AtomicInteger();
    private LanyardServer server;
    private Credential admin;
    private Path dir;

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable service : services) {
            service.close();
        }
        channels.forEach(ManagedChannel::shutdownNow);
        if (server != null) {
            server.close();
        }
        TempDirectories.delete(dir);
    }

    @Test
    void goAndRustFollowTheBundleThroughARootRotationWithNoCallFailingForTrust() throws Exception {
        long start = System.nanoTime();
        Path root = Path.of(System.getProperty("lanyard.root", "..")).toAbsolutePath().normalize();
        dir = Files.createTempDirectory("lanyard-e2e-roots");
        int grpcPort = freePort();
        int httpPort = freePort();
        Path config = dir.resolve("server.properties");
        Files.writeString(config, String.join("\n",
                "trust-domain=" + TD,
                "data-dir=" + dir.resolve("data"),
                "grpc.host=127.0.0.1",
                "grpc.port=" + grpcPort,
                "http.host=127.0.0.1",
                "http.port=" + httpPort,
                "http.tls=none",
                "public-url=http://127.0.0.1:" + httpPort,
                "admin.credential-dir=" + dir.resolve("data/admin"),
                "bundle.refresh-hint=1s",
                "jwt.publish-lead=3s",
                // Every certificate lives 10 s, so a retired intermediate (and the old root) go 20 s after the switch.
                "svid.default-ttl=10s",
                "svid.max-ttl=10s",
                "server.certificate-ttl=10s",
                "agent.svid-ttl=10s",
                "token.rate-per-second=1000",
                "token.burst=1000",
                ""));
        server = LanyardServer.start(ServerConfig.load(config));
        admin = new CredentialDirectory(dir.resolve("data/admin")).read(CryptoProviders.bouncyCastleOnly());
        try (InputStream examples = RootRotationTest.class.getResourceAsStream("/examples.pb")) {
            ContractServiceGrpc.newBlockingStub(channel()).publishContracts(PublishContractsRequest.newBuilder()
                    .setSource("examples").setDescriptorSet(ByteString.readFrom(examples)).build());
        }
        Policy.Builder policy = Policy.newBuilder();
        TextFormat.merge("""
                version: 1
                grants { spiffe_ids: "%s" audience: "ledger" scopes: "ledger.write" }
                grants { spiffe_ids: "%s" audience: "payments" scopes: "payments.charge" }
                """.formatted(PAYMENTS, LEDGER), policy);
        PolicyServiceGrpc.newBlockingStub(channel()).applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build());
        var adminStub = AdminServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        for (String id : List.of(PAYMENTS, LEDGER)) {
            adminStub.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(id).build());
        }
        X509Certificate oldRoot = server.trustBundle().get(0);
        Path bundle = Files.writeString(dir.resolve("bundle.pem"), Pem.certificates(server.trustBundle()));
        String lanyard = "localhost:" + grpcPort;
        String jwks = "http://127.0.0.1:" + httpPort + "/.well-known/jwks.json";
        String issuer = server.config().issuer();
        ExampleService payments = ExampleService.start("payments (Go, roots)", root.resolve("examples/payments/target/payments"),
                lanyard, List.of("--bundle", bundle.toString()), jwks, issuer, joinToken(adminStub, PAYMENTS), freePort(),
                freePort(), dir, List.of());
        services.add(payments);
        ExampleService ledger = ExampleService.start("ledger (Rust, roots)", root.resolve("examples/ledger/target/debug/ledger"),
                lanyard, List.of("--root-fingerprint", "sha256:" + Pem.sha256Fingerprint(oldRoot)), jwks, issuer,
                joinToken(adminStub, LEDGER), freePort(), freePort(), dir, List.of());
        services.add(ledger);
        payments.awaitHealthy(Duration.ofSeconds(60));
        ledger.awaitHealthy(Duration.ofSeconds(60));

        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicReference<String> phase = new AtomicReference<>("old root only");
        Map<String, AtomicInteger> succeeded = new ConcurrentHashMap<>();
        Thread traffic = new Thread(() -> {
            while (running.get()) {
                try {
                    String now = phase.get();
                    record(failures, succeeded, now, "Go->Rust", payments.call(ledger, POST_ENTRY, "ledger",
                            List.of("ledger.write"), entry()));
                    record(failures, succeeded, now, "Rust->Go", ledger.call(payments, CHARGE, "payments",
                            List.of("payments.charge"), charge()));
                    calls.addAndGet(2);
                    Thread.sleep(100);
                } catch (Exception e) {
                    failures.add(e.toString());
                }
            }
        });
        traffic.start();
        X509Certificate newRoot;
        try {
            var keys = KeyServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
            Thread.sleep(2_000);
            phase.set("both roots");
            keys.addRoot(AddRootRequest.newBuilder().setGenerate(true).build());
            assertThat(server.trustBundle()).hasSize(2);
            newRoot = server.trustBundle().get(1);
            // Prepare under the new root, wait out the publish lead, activate; then both renew onto it.
            rotate(keys);
            assertThat(payments.renew().code()).isEqualTo("OK");
            assertThat(ledger.renew().code()).isEqualTo("OK");
            assertThat(server.caRotation().active().ca().root().certificate()).isEqualTo(newRoot);
            // Everything under the old root expires within 10 s; the old root leaves at the next tick after.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
            while (server.trustBundle().size() > 1 && System.nanoTime() < deadline) {
                Thread.sleep(500);
            }
            assertThat(server.trustBundle()).as("the old root has left the bundle").containsExactly(newRoot);
            phase.set("new root only");
            Thread.sleep(3_000); // calls keep going with only the new root published
            assertThat(payments.renew().code()).as("Go renews with only the new root published").isEqualTo("OK");
            assertThat(ledger.renew().code()).as("Rust renews with only the new root published").isEqualTo("OK");
            Thread.sleep(1_000);
        } finally {
            running.set(false);
            traffic.join();
        }
        // Certificates live 10 s (backdated 1 s), so both services renew about every 4.5 s besides the
        // renewals asked for above: every call passes, none refused for a token bound to another
        // certificate than the one its connection presents (cnf_mismatch).
        System.out.printf("root rotation e2e: %d calls, %d failed, succeeded by phase %s, renewals Go %s / Rust %s,"
                + " %.1f s wall time%n", calls.get(), failures.size(), succeeded, payments.status().get("renewals"),
                ledger.status().get("renewals"), (System.nanoTime() - start) / 1e9);
        assertThat(failures).as("calls that failed during the root rotation (of %d)", calls.get()).isEmpty();
        for (String each : List.of("old root only", "both roots")) {
            assertThat(succeeded.getOrDefault(each, new AtomicInteger()).get()).as("calls that passed with %s", each)
                    .isPositive();
        }
        assertThat(succeeded.getOrDefault("new root only", new AtomicInteger()).get())
                .as("calls that passed with the new root only").isPositive();
    }

    /** Prepare, wait out the publish lead, activate (refused with FAILED_PRECONDITION until then). */
    private void rotate(KeyServiceGrpc.KeyServiceBlockingStub keys) throws Exception {
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Thread.sleep(1_000);
            try {
                keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
                return;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION || System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }

    private static void record(List<String> failures, Map<String, AtomicInteger> succeeded, String phase, String what,
            ExampleService.Outcome outcome) {
        if (outcome.code().equals("OK")) {
            succeeded.computeIfAbsent(phase, p -> new AtomicInteger()).incrementAndGet();
        } else {
            failures.add(phase + ": " + what + ": " + outcome);
        }
    }

    private Map<String, Object> entry() {
        return Map.of("debitAccountId", "acct-a", "creditAccountId", "acct-b", "amountMinor", 500, "currency", "EUR",
                "idempotencyKey", "e-" + requestNumber.incrementAndGet());
    }

    private Map<String, Object> charge() {
        return Map.of("accountId", "acct-a", "amountMinor", 500, "currency", "EUR",
                "idempotencyKey", "c-" + requestNumber.incrementAndGet());
    }

    private static String joinToken(AdminServiceGrpc.AdminServiceBlockingStub admin, String id) {
        return admin.createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(id).build()).getToken();
    }

    private ManagedChannel channel() {
        ManagedChannel channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), admin);
        channels.add(channel);
        return channel;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
