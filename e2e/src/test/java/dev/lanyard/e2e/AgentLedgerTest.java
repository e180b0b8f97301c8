package dev.lanyard.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.TextFormat;
import com.google.protobuf.util.Durations;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.testing.TempDirectories;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * The Rust ledger with no join token: started with {@code --workload-api}, it takes its X.509-SVID
 * (and the JWT-SVIDs it sends) from a real {@code lanyard-agent} attested to a real Lanyard server.
 * The Go payments service (join token, as in {@link CrossLanguageTest}) calls it over mTLS with a
 * token and is allowed; the ledger calls back with a JWT-SVID from the agent. Revoking the ledger's
 * identity makes the agent drop it, and the ledger then holds and presents no certificate.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AgentLedgerTest {

    private static final String TD = "lanyard.local";
    private static final String PAYMENTS = "spiffe://" + TD + "/ns/payments/sa/api";
    private static final String LEDGER = "spiffe://" + TD + "/ns/ledger/sa/agent-fed";
    private static final String POST_ENTRY = "/examples.ledger.v1.LedgerService/PostEntry";
    private static final String GET_PAYMENT = "/examples.payments.v1.PaymentsService/GetPayment";

    private Path dir;
    private LanyardServer server;
    private ManagedChannel adminChannel;
    private AgentProcess agent;
    private ExampleService payments;
    private ExampleService ledger;

    @BeforeAll
    void start() throws Exception {
        Path root = Path.of(System.getProperty("lanyard.root", "..")).toAbsolutePath().normalize();
        dir = Files.createTempDirectory("lanyard-agent-ledger");
        int httpPort = freePort();
        // The system clock: the agent and the services check validity against real time.
        server = LanyardServer.start(ServerConfig.dev(dir.resolve("data"), 0, httpPort,
                Map.of("public-url", "http://127.0.0.1:" + httpPort)));
        Credential admin = new CredentialDirectory(dir.resolve("data/admin")).read(CryptoProviders.bouncyCastleOnly());
        adminChannel = TlsChannels.open(server.grpcPort(), server.trustBundle(), admin);
        try (InputStream examples = AgentLedgerTest.class.getResourceAsStream("/examples.pb")) {
            ContractServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS).publishContracts(
                    PublishContractsRequest.newBuilder().setSource("examples").setDescriptorSet(ByteString.readFrom(examples))
                            .build());
        }
        Policy.Builder policy = Policy.newBuilder();
        TextFormat.merge("""
                version: 1
                grants { spiffe_ids: "%s" audience: "ledger" scopes: "ledger.write" }
                grants { spiffe_ids: "%s" audience: "payments" scopes: "payments.read" }
                """.formatted(PAYMENTS, LEDGER), policy);
        PolicyServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build());

        Path bundle = dir.resolve("bundle.pem");
        Files.writeString(bundle, Pem.certificates(server.trustBundle()));
        String lanyard = "localhost:" + server.grpcPort();
        agent = AgentProcess.start(root, dir, lanyard, bundle,
                admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setAgent(true).build()).getToken(),
                "{\"sync_interval\": \"1s\", \"issuer\": \"" + server.config().issuer() + "\"}");
        // The ledger is parented to the agent and matched by this process's uid (its child's too).
        admin().createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(LEDGER)
                .setMaxTtl(Durations.fromHours(1)).setParentId(agent.agentId)
                .addSelectors("unix:uid:" + Files.getAttribute(Path.of("/proc/self"), "unix:uid")).build());
        admin().createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(PAYMENTS).build());

        String jwks = "http://127.0.0.1:" + httpPort + "/.well-known/jwks.json";
        String issuer = server.config().issuer();
        payments = ExampleService.start("payments (Go, join token)", root.resolve("examples/payments/target/payments"),
                lanyard, List.of("--bundle", bundle.toString()), jwks, issuer,
                admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(PAYMENTS).build()).getToken(),
                freePort(), freePort(), dir, List.of());
        // No join token and no trust flag: the agent gives the identity and the bundle.
        ledger = ExampleService.start("ledger (Rust, workload API)", root.resolve("examples/ledger/target/debug/ledger"),
                lanyard, List.of(), jwks, issuer, "", freePort(), freePort(), dir,
                List.of("--workload-api", "unix://" + agent.socket));
        payments.awaitHealthy(Duration.ofSeconds(60));
        ledger.awaitHealthy(Duration.ofSeconds(90));
    }

    @AfterAll
    void stop() throws Exception {
        for (AutoCloseable c : new AutoCloseable[] {payments, ledger, agent}) {
            if (c != null) {
                c.close();
            }
        }
        if (adminChannel != null) {
            adminChannel.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
        TempDirectories.delete(dir);
    }

    @Test
    @Order(1)
    void goCallsTheLedgerWhoseIdentityComesFromTheAgent() throws Exception {
        try {
            assertThat(ledger.status()).containsEntry("spiffe_id", LEDGER);
            assertThat(payments.call(ledger, POST_ENTRY, "ledger", List.of("ledger.write"), entry()))
                    .isEqualTo(new ExampleService.Outcome("OK", ""));
            // The other way, with a JWT-SVID the ledger got from the agent: past the token check,
            // the payments service itself answers.
            assertThat(ledger.call(payments, GET_PAYMENT, "payments", List.of("payments.read"),
                    Map.of("paymentId", "no-such-payment")).code()).isEqualTo("NOT_FOUND");
            assertThat(ledger.log()).as("the ledger never bootstrapped with Lanyard itself")
                    .contains("identity from the agent: " + LEDGER).doesNotContain("bootstrapped as");
        } catch (AssertionError | RuntimeException e) {
            throw withLogs(e);
        }
    }

    @Test
    @Order(2)
    void revokingTheLedgerMakesTheAgentDropItsIdentity() throws Exception {
        try {
            RevocationServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .revoke(RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setSpiffeId(LEDGER))
                            .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
            long revoked = System.nanoTime();
            Map<String, Object> status = ledger.status();
            while (!"".equals(status.get("spiffe_id")) && System.nanoTime() - revoked < TimeUnit.SECONDS.toNanos(15)) {
                Thread.sleep(100);
                status = ledger.status();
            }
            System.out.printf("the ledger lost its agent-issued identity %.3f s after Revoke returned%n",
                    (System.nanoTime() - revoked) / 1e9);
            assertThat(status).as("the ledger reports no SVID").containsEntry("spiffe_id", "");
            assertThat(String.valueOf(status.get("last_renewal_error"))).contains("PermissionDenied");
            // Asking the agent again is refused, and with no certificate the ledger's handshakes fail.
            assertThat(ledger.renew().code()).isEqualTo("PERMISSION_DENIED");
            assertThat(payments.call(ledger, POST_ENTRY, "ledger", List.of("ledger.write"), entry()).code())
                    .isNotEqualTo("OK");
            assertThat(ledger.call(payments, GET_PAYMENT, "payments", List.of("payments.read"),
                    Map.of("paymentId", "no-such-payment")).code()).isEqualTo("PERMISSION_DENIED");
        } catch (AssertionError | RuntimeException e) {
            throw withLogs(e);
        }
    }

    private static Map<String, Object> entry() {
        return Map.of("debitAccountId", "acct-a", "creditAccountId", "acct-b", "amountMinor", 500, "currency", "EUR",
                "idempotencyKey", "e-" + System.nanoTime());
    }

    private AssertionError withLogs(Throwable e) {
        return new AssertionError(e.getMessage() + "\n--- ledger log ---\n" + ledger.log() + "\n--- payments log ---\n"
                + payments.log() + "\n--- agent log ---\n" + agent.log(), e);
    }

    private AdminServiceGrpc.AdminServiceBlockingStub admin() {
        return AdminServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
