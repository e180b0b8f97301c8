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
import dev.lanyard.testing.WebPki;
import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.FederationServiceGrpc;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Three Lanyard servers: a.test and b.test federate both ways over HTTPS (B fetches A's bundle as
 * https_spiffe, A fetches B's as https_web); c.test federates with b.test, but b.test not with c.test.
 * The Go payments service of a.test calls the Rust ledger of b.test over mTLS with a token its own
 * Lanyard minted: allowed (the ledger checks it with a.test's keys from b.test's federated bundle).
 * The same call from c.test's payments is refused. The ledger's certificate revoked in b.test is then
 * refused by a.test's payments: b.test's revocation reaches a.test's Lanyard and its watchers.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FederatedLedgerTest {

    private static final String LEDGER = "spiffe://b.test/ns/ledger/sa/api";
    private static final String POST_ENTRY = "/examples.ledger.v1.LedgerService/PostEntry";

    private Path dir;
    private final List<AutoCloseable> open = new ArrayList<>();
    private final Map<LanyardServer, ManagedChannel> admins = new HashMap<>();
    private LanyardServer a;
    private LanyardServer b;
    private LanyardServer c;
    private ExampleService paymentsA;
    private ExampleService paymentsC;
    private ExampleService ledger;

    @BeforeAll
    void start() throws Exception {
        Path root = Path.of(System.getProperty("lanyard.root", "..")).toAbsolutePath().normalize();
        dir = Files.createTempDirectory("lanyard-federated-ledger");
        WebPki web = WebPki.selfSigned("localhost");
        Path webCert = dir.resolve("b-web.pem");
        Path webKey = dir.resolve("b-web.key");
        web.write(webCert, webKey);
        Path webRoots = dir.resolve("web-roots.pem");
        Files.writeString(webRoots, Pem.certificates(List.of(web.certificate())), StandardCharsets.US_ASCII);
        a = server("a", Map.of("trust-domain", "a.test", "http.tls", "spiffe", "federation.web-roots", webRoots.toString()));
        b = server("b", Map.of("trust-domain", "b.test", "http.tls", "web", "http.tls.cert-file", webCert.toString(),
                "http.tls.key-file", webKey.toString()));
        c = server("c", Map.of("trust-domain", "c.test", "http.tls", "spiffe", "federation.web-roots", webRoots.toString()));

        String bEndpoint = "https://localhost:" + b.httpPort() + "/bundle";
        for (LanyardServer caller : List.of(a, c)) {
            FederationServiceGrpc.newBlockingStub(channel(caller)).addFederation(AddFederationRequest.newBuilder()
                    .setTrustDomain("b.test").setBundleEndpointUrl(bEndpoint)
                    .setProfile(BundleEndpointProfile.HTTPS_WEB).build());
        }
        FederationServiceGrpc.newBlockingStub(channel(b)).addFederation(AddFederationRequest.newBuilder()
                .setTrustDomain("a.test").setBundleEndpointUrl("https://localhost:" + a.httpPort() + "/bundle")
                .setProfile(BundleEndpointProfile.HTTPS_SPIFFE).setEndpointSpiffeId(a.config().serverId().toString())
                .setInitialBundle(new String(a.bundles().current().spiffeJson(), StandardCharsets.UTF_8)).build());
        awaitFederated(a, "b.test");
        awaitFederated(c, "b.test");
        awaitFederated(b, "a.test");

        paymentsA = payments(root, a);
        paymentsC = payments(root, c);
        admin(b).createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(LEDGER)
                .addFederatesWith("a.test").build());
        String token = admin(b).createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(LEDGER).build())
                .getToken();
        ledger = ExampleService.start("ledger (Rust, b.test)", root.resolve("examples/ledger/target/debug/ledger"),
                "localhost:" + b.grpcPort(), List.of("--bundle", bundleFile(b).toString()), jwks(b), b.config().issuer(),
                token, freePort(), freePort(), dir, List.of("--federate-with", "a.test=" + a.config().issuer()));
        open.add(ledger);
        paymentsA.awaitHealthy(Duration.ofSeconds(60));
        paymentsC.awaitHealthy(Duration.ofSeconds(60));
        ledger.awaitHealthy(Duration.ofSeconds(90));
    }

    @AfterAll
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        TempDirectories.delete(dir);
    }

    @Test
    @Order(1)
    void aFederatedGoServiceCallsTheRustLedgerWithItsOwnLanyardsToken() throws Exception {
        try {
            ExampleService.Outcome outcome = awaitCall(paymentsA, o -> o.code().equals("OK"));
            assertThat(outcome).isEqualTo(new ExampleService.Outcome("OK", ""));
        } catch (AssertionError | RuntimeException e) {
            throw withLogs(e);
        }
    }

    @Test
    @Order(2)
    void theSameCallFromATrustDomainTheLedgerDoesNotFederateWithIsRefused() throws Exception {
        try {
            // c.test trusts b.test, and its Lanyard mints the token; b.test has no bundle of c.test.
            ExampleService.Outcome outcome = paymentsC.call(ledger, POST_ENTRY, "ledger", List.of("ledger.write"),
                    entry());
            assertThat(outcome.code()).isNotEqualTo("OK").isNotEqualTo("INTERNAL");
            assertThat(outcome.message()).doesNotContain("fetching a token"); // the ledger refused, not Lanyard C
        } catch (AssertionError | RuntimeException e) {
            throw withLogs(e);
        }
    }

    @Test
    @Order(3)
    void theLedgerRevokedInBIsRefusedInA() throws Exception {
        try {
            String serial = String.valueOf(ledger.status().get("serial"));
            RevocationServiceGrpc.newBlockingStub(channel(b)).withDeadlineAfter(30, TimeUnit.SECONDS).revoke(
                    RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setSerial(serial))
                            .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
            long revoked = System.nanoTime();
            ExampleService.Outcome outcome = awaitCall(paymentsA, o -> !o.code().equals("OK"));
            System.out.printf("the ledger's certificate revoked in b.test was refused by a.test's payments %d ms"
                    + " after Revoke returned%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - revoked));
            assertThat(outcome.message()).contains("revoked");
        } catch (AssertionError | RuntimeException e) {
            throw withLogs(e);
        }
    }

    private ExampleService.Outcome awaitCall(ExampleService caller, java.util.function.Predicate<ExampleService.Outcome> done)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        ExampleService.Outcome outcome;
        do {
            outcome = caller.call(ledger, POST_ENTRY, "ledger", List.of("ledger.write"), entry());
            if (done.test(outcome)) {
                return outcome;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        return outcome;
    }

    private ExampleService payments(Path root, LanyardServer server) throws Exception {
        String td = server.config().trustDomain();
        String id = "spiffe://" + td + "/ns/payments/sa/api";
        try (InputStream examples = FederatedLedgerTest.class.getResourceAsStream("/examples.pb")) {
            ContractServiceGrpc.newBlockingStub(channel(server)).withDeadlineAfter(30, TimeUnit.SECONDS).publishContracts(
                    PublishContractsRequest.newBuilder().setSource("examples")
                            .setDescriptorSet(ByteString.readFrom(examples)).build());
        }
        Policy.Builder policy = Policy.newBuilder();
        TextFormat.merge("version: 1\ngrants { spiffe_ids: \"" + id + "\" audience: \"ledger\" scopes: \"ledger.write\" }",
                policy);
        PolicyServiceGrpc.newBlockingStub(channel(server)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build());
        admin(server).createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(id)
                .addFederatesWith("b.test").build());
        ExampleService service = ExampleService.start("payments (Go, " + td + ")",
                root.resolve("examples/payments/target/payments"), "localhost:" + server.grpcPort(),
                List.of("--bundle", bundleFile(server).toString()), jwks(server), server.config().issuer(),
                admin(server).createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(id).build()).getToken(),
                freePort(), freePort(), dir, List.of("--federate-with", "b.test"));
        open.add(service);
        return service;
    }

    private LanyardServer server(String name, Map<String, String> settings) throws IOException {
        Map<String, String> extra = new HashMap<>(settings);
        extra.put("bundle.refresh-hint", "1s");
        LanyardServer server = LanyardServer.start(ServerConfig.dev(dir.resolve(name), 0, 0, extra));
        open.add(server);
        return server;
    }

    /** An mTLS channel to {@code server} as its admin. */
    private ManagedChannel channel(LanyardServer server) throws IOException {
        ManagedChannel channel = admins.get(server);
        if (channel == null) {
            Credential admin = new CredentialDirectory(server.config().adminCredentialDir().orElseThrow())
                    .read(CryptoProviders.bouncyCastleOnly());
            channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), admin);
            admins.put(server, channel);
            ManagedChannel opened = channel;
            open.add(opened::shutdownNow);
        }
        return channel;
    }

    private AdminServiceGrpc.AdminServiceBlockingStub admin(LanyardServer server) throws IOException {
        return AdminServiceGrpc.newBlockingStub(channel(server)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private Path bundleFile(LanyardServer server) throws IOException {
        Path file = dir.resolve(server.config().trustDomain() + "-bundle.pem");
        Files.writeString(file, Pem.certificates(server.trustBundle()));
        return file;
    }

    private static String jwks(LanyardServer server) {
        return server.config().issuer() + "/.well-known/jwks.json";
    }

    private static void awaitFederated(LanyardServer server, String trustDomain) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (server.bundles().current().proto().getFederatedBundlesList().stream()
                .noneMatch(bundle -> bundle.getTrustDomain().equals(trustDomain))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(server.config().trustDomain() + " holds no bundle of " + trustDomain);
            }
            Thread.sleep(100);
        }
    }

    private static Map<String, Object> entry() {
        return Map.of("debitAccountId", "acct-a", "creditAccountId", "acct-b", "amountMinor", 500, "currency", "EUR",
                "idempotencyKey", "e-" + System.nanoTime());
    }

    private AssertionError withLogs(Throwable e) {
        return new AssertionError(e.getMessage() + "\n--- ledger log ---\n" + ledger.log() + "\n--- payments a.test log ---\n"
                + paymentsA.log() + "\n--- payments c.test log ---\n" + paymentsC.log(), e);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
