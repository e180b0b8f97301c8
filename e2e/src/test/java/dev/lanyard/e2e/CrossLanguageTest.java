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
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.TempDirectories;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.JoinTokenAttestation;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.RotateKeysRequest;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * The whole mission in one run: a real Lanyard server; the Go payments and the Rust ledger example
 * services get their identity from it at startup and call each other over mTLS with
 * certificate-bound tokens, each enforcing the contract of the same .proto files. The steps build
 * on each other and run in order.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@ExtendWith(CrossLanguageTest.PrintLogsOnFailure.class)
class CrossLanguageTest {

    static final String TD = "lanyard.local";
    static final String PAYMENTS = "spiffe://" + TD + "/ns/payments/sa/api";
    static final String LEDGER = "spiffe://" + TD + "/ns/ledger/sa/api";
    static final String TESTER = "spiffe://" + TD + "/ns/tester/sa/java";
    static final String POST_ENTRY = "/examples.ledger.v1.LedgerService/PostEntry";
    static final String CHARGE = "/examples.payments.v1.PaymentsService/Charge";
    static final String REFUND = "/examples.payments.v1.PaymentsService/Refund";
    static final String POLICY = """
            version: 1
            grants { spiffe_ids: "%s" audience: "ledger" scopes: "ledger.write" scopes: "ledger.read" }
            grants { spiffe_ids: "%s" audience: "payments" scopes: "payments.read" scopes: "payments.charge" }
            grants { spiffe_ids: "%s" audience: "ledger" scopes: "ledger.read" }
            grants { spiffe_ids: "%s" audience: "ledger" scopes: "ledger.write" }
            """.formatted(PAYMENTS, LEDGER, LEDGER, TESTER);

    private final long suiteStart = System.nanoTime();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final AtomicInteger requestNumber = new AtomicInteger();
    private Path dir;
    private Path config;
    private LanyardServer server;
    private Credential admin;
    private ExampleService payments;
    private ExampleService ledger;
    private Path paymentsBinary;
    private Path ledgerBinary;
    private String lanyard;
    private String jwks;
    private String issuer;

    @BeforeAll
    void start() throws Exception {
        Path root = Path.of(System.getProperty("lanyard.root", "..")).toAbsolutePath().normalize();
        dir = Files.createTempDirectory("lanyard-e2e");
        int grpcPort = freePort();
        int httpPort = freePort();
        config = dir.resolve("server.properties");
        Files.writeString(config, String.join("\n",
                "trust-domain=" + TD,
                "data-dir=" + dir.resolve("data"),
                "grpc.host=127.0.0.1",
                "grpc.port=" + grpcPort,
                "http.host=127.0.0.1",
                "http.port=" + httpPort,
                "http.tls=none", // the Go and Rust verifiers fetch the JWKS over plain HTTP here
                "public-url=http://127.0.0.1:" + httpPort,
                "admin.credential-dir=" + dir.resolve("data/admin"),
                // Short cache hints and publish lead, so a forced rotation can complete within the run.
                "bundle.refresh-hint=1s",
                "jwt.publish-lead=3s",
                "token.rate-per-second=1000",
                "token.burst=1000",
                ""));
        server = LanyardServer.start(ServerConfig.load(config));
        admin = new CredentialDirectory(dir.resolve("data/admin")).read(CryptoProviders.bouncyCastleOnly());

        try (InputStream examples = CrossLanguageTest.class.getResourceAsStream("/examples.pb")) {
            ContractServiceGrpc.newBlockingStub(adminChannel()).publishContracts(PublishContractsRequest.newBuilder()
                    .setSource("examples").setDescriptorSet(ByteString.readFrom(examples)).build());
        }
        Policy.Builder policy = Policy.newBuilder();
        TextFormat.merge(POLICY, policy);
        PolicyServiceGrpc.newBlockingStub(adminChannel()).applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build());
        for (String id : List.of(PAYMENTS, LEDGER, TESTER)) {
            admin().createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(id).build());
        }

        // The Go service trusts Lanyard through a bundle file, the Rust one through the pinned root.
        Path bundle = dir.resolve("bundle.pem");
        Files.writeString(bundle, Pem.certificates(server.trustBundle()));
        lanyard = "localhost:" + grpcPort;
        jwks = "http://127.0.0.1:" + httpPort + "/.well-known/jwks.json";
        issuer = server.config().issuer();
        paymentsBinary = root.resolve("examples/payments/target/payments");
        ledgerBinary = root.resolve("examples/ledger/target/debug/ledger");
        payments = ExampleService.start("payments (Go)", paymentsBinary, lanyard, List.of("--bundle", bundle.toString()),
                jwks, issuer, joinToken(PAYMENTS), freePort(), freePort(), dir, List.of());
        ledger = ExampleService.start("ledger (Rust)", ledgerBinary, lanyard, List.of("--root-fingerprint",
                "sha256:" + Pem.sha256Fingerprint(server.trustBundle().get(0))), jwks, issuer, joinToken(LEDGER),
                freePort(), freePort(), dir, List.of());
        payments.awaitHealthy(Duration.ofSeconds(60));
        ledger.awaitHealthy(Duration.ofSeconds(60));
    }

    @AfterAll
    void stop() {
        for (AutoCloseable c : new AutoCloseable[] {payments, ledger}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                // best effort
            }
        }
        channels.forEach(ManagedChannel::shutdownNow);
        if (server != null) {
            server.close();
        }
        TempDirectories.delete(dir);
        System.out.printf("cross-language suite: %.1f s wall time%n", (System.nanoTime() - suiteStart) / 1e9);
    }

    @Test
    @Order(1)
    void goCallsRustAndRustCallsGo() throws Exception {
        assertThat(goCallsRust()).isEqualTo(ok());
        assertThat(rustCallsGo()).isEqualTo(ok());
        assertThat(ledger.call(payments, "/examples.payments.v1.PaymentsService/GetPayment", "payments",
                List.of("payments.read"), Map.of("paymentId", "no-such-payment")).code())
                .as("past the token check: the service itself answers").isEqualTo("NOT_FOUND");
    }

    @Test
    @Order(0)
    void aServiceWhosePinMatchesNoRootRefusesToBootstrap() throws Exception {
        String wrongPin = "sha256:" + "0".repeat(64);
        for (Path binary : List.of(paymentsBinary, ledgerBinary)) {
            String name = binary.getFileName() + " (wrong pin)";
            try (ExampleService service = ExampleService.start(name, binary, lanyard, List.of("--root-fingerprint",
                    wrongPin), jwks, issuer, joinToken(TESTER), freePort(), freePort(), dir, List.of())) {
                assertThat(service.awaitExit(Duration.ofSeconds(60))).as(name).isNotZero();
                assertThat(service.log()).as(name)
                        .contains("no root in the server's trust bundle matches the pinned fingerprint");
            }
        }
    }

    @Test
    @Order(2)
    void aCallMissingAScopeIsRefusedByTheCallee() throws Exception {
        ExampleService.Outcome rust = payments.call(ledger, POST_ENTRY, "ledger", List.of("ledger.read"), entry());
        assertThat(rust.code()).isEqualTo("PERMISSION_DENIED");
        assertThat(rust.message()).contains("ledger.write");
        ExampleService.Outcome go = ledger.call(payments, CHARGE, "payments", List.of("payments.read"), charge());
        assertThat(go.code()).isEqualTo("PERMISSION_DENIED");
        assertThat(go.message()).contains("payments.charge");
    }

    @Test
    @Order(3)
    void aTokenMintedForTheOtherAudienceIsRefused() throws Exception {
        // The ledger holds ledger.read on its own audience; a token for "ledger" is no good at payments.
        ExampleService.Outcome go = ledger.call(payments, CHARGE, "ledger", List.of("ledger.read"), charge());
        assertThat(go.code()).isEqualTo("UNAUTHENTICATED");
        assertThat(go.message()).containsIgnoringCase("audience");
    }

    @Test
    @Order(4)
    void aTokenReplayedOverAnotherIdentitysCertificateIsRefused() throws Exception {
        String stolen = testerToken("ledger", "ledger.write");
        ExampleService.Outcome rust = payments.callWithToken(ledger, POST_ENTRY, stolen, entry());
        assertThat(rust.code()).isEqualTo("UNAUTHENTICATED");
        assertThat(rust.message()).contains("cnf_mismatch");
    }

    @Test
    @Order(5)
    void lanyardRefusesToMintWhatTheGrantsDoNotAllow() throws Exception {
        ExampleService.Outcome refused = ledger.call(payments, REFUND, "payments",
                List.of("payments.refund", "payments.charge.read"), Map.of("paymentId", "p", "amountMinor", 1));
        assertThat(refused.code()).isEqualTo("PERMISSION_DENIED");
        assertThat(refused.message()).contains(LEDGER + " is not granted", "payments.refund");
    }

    @Test
    @Order(6)
    void jwtKeyAndIssuingCaRotationsMidRunFailNoCall() throws Exception {
        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicInteger calls = new AtomicInteger();
        AtomicBoolean running = new AtomicBoolean(true);
        Thread traffic = new Thread(() -> {
            while (running.get()) {
                try {
                    record(failures, "Go->Rust", goCallsRust());
                    record(failures, "Rust->Go", rustCallsGo());
                    calls.addAndGet(2);
                    Thread.sleep(100);
                } catch (Exception e) {
                    failures.add(e.toString());
                }
            }
        });
        traffic.start();
        try {
            rotate(KeyKind.KEY_KIND_JWT);
            rotate(KeyKind.KEY_KIND_X509);
            // New certificates from the new issuing CA, and (after the renewal) tokens from the new JWT key.
            assertThat(payments.renew().code()).isEqualTo("OK");
            assertThat(ledger.renew().code()).isEqualTo("OK");
            Thread.sleep(2_000);
        } finally {
            running.set(false);
            traffic.join();
        }
        assertThat(failures).as("calls that failed during the rotations (of %d)", calls.get()).isEmpty();
        assertThat(calls.get()).isGreaterThan(10);
    }

    @Test
    @Order(7)
    void callsKeepWorkingWhileLanyardIsDownAndClientsReconnectWhenItReturns() throws Exception {
        server.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int calls = 0;
        while (System.nanoTime() < deadline) {
            assertThat(goCallsRust()).as("Go->Rust with Lanyard down").isEqualTo(ok());
            assertThat(rustCallsGo()).as("Rust->Go with Lanyard down").isEqualTo(ok());
            calls += 2;
            Thread.sleep(1_000);
        }
        assertThat(calls).isGreaterThanOrEqualTo(40);
        channels.forEach(ManagedChannel::shutdownNow);
        channels.clear();
        server = LanyardServer.start(ServerConfig.load(config));

        assertThat(eventually(() -> payments.renew())).as("Go renews once Lanyard is back").isEqualTo(ok("renewed"));
        assertThat(eventually(() -> ledger.renew())).as("Rust renews once Lanyard is back").isEqualTo(ok("renewed"));
        assertThat(goCallsRust()).isEqualTo(ok());
        assertThat(rustCallsGo()).isEqualTo(ok());
    }

    @Test
    @Order(8)
    void aRevokedGoServiceIsRefusedByRustWithinTwoSecondsAndCannotRenew() throws Exception {
        assertThat(goCallsRust()).isEqualTo(ok());
        RevocationServiceGrpc.newBlockingStub(adminChannel()).withDeadlineAfter(30, TimeUnit.SECONDS)
                .revoke(RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setSpiffeId(PAYMENTS))
                        .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
        long revoked = System.nanoTime();
        ExampleService.Outcome outcome;
        do {
            outcome = goCallsRust();
        } while (outcome.code().equals("OK") && System.nanoTime() - revoked < TimeUnit.SECONDS.toNanos(10));
        double seconds = (System.nanoTime() - revoked) / 1e9;
        System.out.printf("the Rust service refused the revoked Go service %.3f s after Revoke returned%n", seconds);
        assertThat(outcome.code()).isNotEqualTo("OK");
        assertThat(seconds).isLessThan(2.0);
        // The ledger refuses it at the TLS handshake (Identity::refuse_revoked), before reading a token: the Go
        // client sees its connection fail (the certificate_revoked alert, or the socket closed under a write).
        assertThat(goCallsRust().code()).isEqualTo("UNAVAILABLE");

        ExampleService.Outcome renewal = payments.renew();
        assertThat(renewal.code()).isEqualTo("PERMISSION_DENIED");
        assertThat(renewal.message()).contains(PAYMENTS + " is revoked");
        assertThat((String) payments.status().get("last_renewal_error")).contains("revoked");
        // Nor will the Rust service call the revoked one: it refuses the Go server at the handshake too.
        ExampleService.Outcome toRevoked = rustCallsGo();
        assertThat(toRevoked.code()).isEqualTo("UNAVAILABLE");
        assertThat(toRevoked.message()).contains("invalid peer certificate: Revoked");
    }

    // --- the calls

    private ExampleService.Outcome goCallsRust() throws Exception {
        return payments.call(ledger, POST_ENTRY, "ledger", List.of("ledger.write"), entry());
    }

    private ExampleService.Outcome rustCallsGo() throws Exception {
        return ledger.call(payments, CHARGE, "payments", List.of("payments.charge"), charge());
    }

    private Map<String, Object> entry() {
        return Map.of("debitAccountId", "acct-a", "creditAccountId", "acct-b", "amountMinor", 500, "currency", "EUR",
                "idempotencyKey", "e-" + requestNumber.incrementAndGet());
    }

    private Map<String, Object> charge() {
        return Map.of("accountId", "acct-a", "amountMinor", 500, "currency", "EUR",
                "idempotencyKey", "c-" + requestNumber.incrementAndGet());
    }

    private static ExampleService.Outcome ok() {
        return new ExampleService.Outcome("OK", "");
    }

    private static ExampleService.Outcome ok(String messageStart) {
        return new ExampleService.Outcome("OK", messageStart);
    }

    private static void record(List<String> failures, String what, ExampleService.Outcome outcome) {
        if (!outcome.code().equals("OK")) {
            failures.add(what + ": " + outcome);
        }
    }

    @FunctionalInterface
    private interface Attempt {
        ExampleService.Outcome run() throws Exception;
    }

    /** Retries until OK (clients reconnect with backoff after an outage); the message is cut to its first word. */
    private static ExampleService.Outcome eventually(Attempt attempt) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        ExampleService.Outcome last;
        do {
            last = attempt.run();
            if (last.code().equals("OK")) {
                return new ExampleService.Outcome("OK", last.message().split(",")[0]);
            }
            Thread.sleep(500);
        } while (System.nanoTime() < deadline);
        return last;
    }

    // --- Lanyard administration

    /** Prepare, wait out the publish lead, activate: the next key is published before it signs. */
    private void rotate(KeyKind kind) throws Exception {
        var keys = KeyServiceGrpc.newBlockingStub(adminChannel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(kind).build());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Thread.sleep(1_000);
            try {
                keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(kind).build());
                return;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.FAILED_PRECONDITION || System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }

    private String joinToken(String id) {
        return admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(id).build()).getToken();
    }

    /** A token bound to a Java workload's certificate, which other services then try to replay. */
    private String testerToken(String audience, String scope) throws Exception {
        KeyPair keys = Csrs.ecP256();
        CertificateResponse issued = CertificateServiceGrpc.newBlockingStub(channel(null))
                .issueCertificate(IssueCertificateRequest.newBuilder()
                        .setAttestation(Attestation.newBuilder().setJoinToken(
                                JoinTokenAttestation.newBuilder().setToken(joinToken(TESTER))))
                        .setCsr(ByteString.copyFrom(Csrs.csr(keys))).build());
        List<X509Certificate> chain = new ArrayList<>();
        for (ByteString der : issued.getChainList()) {
            chain.add(x509(der));
        }
        Credential tester = new Credential(keys.getPrivate(), x509(issued.getCertificate()), chain, server.trustBundle());
        return TokenServiceGrpc.newBlockingStub(channel(tester)).issueToken(IssueTokenRequest.newBuilder()
                .setAudience(audience).addScopes(scope).build()).getToken();
    }

    private AdminServiceGrpc.AdminServiceBlockingStub admin() {
        return AdminServiceGrpc.newBlockingStub(adminChannel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private ManagedChannel adminChannel() {
        return channel(admin);
    }

    private ManagedChannel channel(Credential client) {
        ManagedChannel channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), client);
        channels.add(channel);
        return channel;
    }

    private static X509Certificate x509(ByteString der) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(der.toByteArray()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** Prints both services' output when a step fails: that is where the why is. */
    static final class PrintLogsOnFailure implements TestWatcher {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            context.getTestInstance().filter(CrossLanguageTest.class::isInstance).map(CrossLanguageTest.class::cast)
                    .ifPresent(test -> {
                        for (ExampleService s : new ExampleService[] {test.payments, test.ledger}) {
                            if (s != null) {
                                System.out.println("----- " + s.name + " output -----\n" + s.log());
                            }
                        }
                    });
        }
    }
}
