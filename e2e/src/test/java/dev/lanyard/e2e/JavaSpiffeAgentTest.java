package dev.lanyard.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import io.grpc.ManagedChannel;
import io.spiffe.bundle.x509bundle.X509Bundle;
import io.spiffe.spiffeid.SpiffeId;
import io.spiffe.spiffeid.TrustDomain;
import io.spiffe.svid.jwtsvid.JwtSvid;
import io.spiffe.svid.x509svid.X509Svid;
import io.spiffe.workloadapi.DefaultJwtSource;
import io.spiffe.workloadapi.DefaultWorkloadApiClient;
import io.spiffe.workloadapi.DefaultX509Source;
import io.spiffe.workloadapi.JwtSource;
import io.spiffe.workloadapi.JwtSourceOptions;
import io.spiffe.workloadapi.Watcher;
import io.spiffe.workloadapi.WorkloadApiClient;
import io.spiffe.workloadapi.X509Context;
import java.io.InputStream;
import java.math.BigInteger;
import java.security.MessageDigest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * java-spiffe, a Workload API client Lanyard did not write, against a real {@code lanyard-agent}
 * attested to a real Lanyard server: {@link DefaultX509Source} gets the SVID and the bundle, and
 * sees the agent's renewal of a short-lived SVID without being asked; {@link DefaultJwtSource} gets
 * a JWT-SVID that java-spiffe validates against the agent's JWT bundle.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JavaSpiffeAgentTest {

    private static final String TD = "lanyard.local";
    private static final Duration SVID_TTL = Duration.ofSeconds(20);

    private Path dir;
    private LanyardServer server;
    private ManagedChannel adminChannel;
    private AgentProcess agent;

    @BeforeAll
    void start() throws Exception {
        Path root = Path.of(System.getProperty("lanyard.root", "..")).toAbsolutePath().normalize();
        dir = Files.createTempDirectory("lanyard-java-spiffe");
        // The system clock: the agent and java-spiffe check validity against real time.
        server = LanyardServer.start(ServerConfig.dev(dir.resolve("data"), 0, 0));
        Credential admin = new CredentialDirectory(dir.resolve("data/admin")).read(CryptoProviders.bouncyCastleOnly());
        adminChannel = TlsChannels.open(server.grpcPort(), server.trustBundle(), admin);
        Path bundle = dir.resolve("bundle.pem");
        Files.writeString(bundle, Pem.certificates(server.trustBundle()));
        String token = admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setAgent(true).build()).getToken();
        agent = AgentProcess.start(root, dir, "localhost:" + server.grpcPort(), bundle, token,
                "{\"workload_svid_ttl\": \"" + SVID_TTL.toSeconds() + "s\", \"sync_interval\": \"1s\", \"issuer\": \""
                        + server.config().issuer() + "\"}");
    }

    @AfterAll
    void stop() throws Exception {
        if (agent != null) {
            agent.close();
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
    void defaultX509SourceGetsTheSvidAndBundleAndSeesTheRenewal() throws Exception {
        String id = "spiffe://" + TD + "/ns/java/sa/spiffe-client";
        register(id);
        try (WorkloadApiClient client = DefaultWorkloadApiClient.newClient(
                DefaultWorkloadApiClient.ClientOptions.builder().spiffeSocketPath(agent.address()).build())) {
            awaitEntry(client, id);
            BlockingQueue<X509Context> updates = new LinkedBlockingQueue<>();
            client.watchX509Context(new Watcher<>() {
                @Override
                public void onUpdate(X509Context update) {
                    updates.add(update);
                }

                @Override
                public void onError(Throwable error) {
                    // The source below fails the test if the stream breaks for good.
                }
            });

            try (DefaultX509Source source = DefaultX509Source.newSource(DefaultX509Source.X509SourceOptions.builder()
                    .spiffeSocketPath(agent.address()).initTimeout(Duration.ofSeconds(30))
                    // Both tests' identities match this process (same uid): pick ours.
                    .svidPicker(svids -> svids.stream().filter(svid -> svid.getSpiffeId().toString().equals(id))
                            .findFirst().orElseThrow())
                    .build())) {
                X509Svid first = source.getX509Svid();
                assertThat(first.getSpiffeId().toString()).isEqualTo(id);
                assertThat(Duration.between(first.getLeaf().getNotBefore().toInstant(),
                        first.getLeaf().getNotAfter().toInstant())).as("the agent's configured workload TTL")
                        .isLessThanOrEqualTo(SVID_TTL.plusSeconds(60));
                assertHoldsItsKey(first);
                X509Bundle bundle = source.getBundleForTrustDomain(TrustDomain.parse(TD));
                assertThat(bundle.getX509Authorities()).containsAll(server.trustBundle());
                first.getLeaf().verify(issuerOf(first).getPublicKey());

                // The agent renews at half-life (with jitter); the source follows its stream.
                BigInteger serial = first.getLeaf().getSerialNumber();
                X509Svid renewed = awaitRenewal(source, serial, SVID_TTL.multipliedBy(3));
                assertThat(renewed.getSpiffeId().toString()).isEqualTo(id);
                assertThat(renewed.getLeaf().getNotAfter()).isAfter(first.getLeaf().getNotAfter());
                assertHoldsItsKey(renewed);
                assertThat(updates.stream().map(u -> svidOf(u, id).getLeaf().getSerialNumber()))
                        .as("the watch stream pushed the renewed SVID too").contains(serial,
                                renewed.getLeaf().getSerialNumber());
            }
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n--- agent log ---\n" + agent.log(), e);
        }
    }

    @Test
    void defaultJwtSourceGetsAJwtSvidThatJavaSpiffeValidates() throws Exception {
        String id = "spiffe://" + TD + "/ns/java/sa/jwt-client";
        register(id);
        try (InputStream examples = JavaSpiffeAgentTest.class.getResourceAsStream("/examples.pb")) {
            ContractServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS).publishContracts(
                    PublishContractsRequest.newBuilder().setSource("examples").setDescriptorSet(ByteString.readFrom(examples))
                            .build());
        }
        Policy.Builder policy = Policy.newBuilder();
        TextFormat.merge("version: 1\ngrants { spiffe_ids: \"" + id + "\" audience: \"ledger\" scopes: \"ledger.read\" }",
                policy);
        PolicyServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy).build());

        try (WorkloadApiClient client = DefaultWorkloadApiClient.newClient(
                DefaultWorkloadApiClient.ClientOptions.builder().spiffeSocketPath(agent.address()).build())) {
            awaitEntry(client, id);
            X509Certificate before = svidOf(client.fetchX509Context(), id).getLeaf();
            try (JwtSource source = DefaultJwtSource.newSource(JwtSourceOptions.builder()
                    .spiffeSocketPath(agent.address()).initTimeout(Duration.ofSeconds(30)).build())) {
                JwtSvid fetched = source.fetchJwtSvid(SpiffeId.parse(id), "ledger");
                JwtSvid validated = JwtSvid.parseAndValidate(fetched.getToken(), source, Set.of("ledger"));
                assertThat(validated.getSpiffeId().toString()).isEqualTo(id);
                assertThat(validated.getClaims()).containsEntry("scope", "ledger.read");
                // Bound to the workload's X.509-SVID (which may have been renewed in between).
                X509Certificate after = svidOf(client.fetchX509Context(), id).getLeaf();
                @SuppressWarnings("unchecked")
                Map<String, Object> cnf = (Map<String, Object>) validated.getClaims().get("cnf");
                assertThat(cnf).isNotNull();
                assertThat(cnf.get("x5t#S256")).isIn(thumbprint(before), thumbprint(after));
                // The agent validates it too (ValidateJWTSVID), and not for another audience.
                assertThat(client.validateJwtSvid(fetched.getToken(), "ledger").getSpiffeId().toString()).isEqualTo(id);
                assertThatThrownBy(
                        () -> JwtSvid.parseAndValidate(fetched.getToken(), source, Set.of("payments")))
                        .hasMessageContaining("audience");
            }
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n--- agent log ---\n" + agent.log(), e);
        }
    }

    private void register(String id) throws java.io.IOException {
        admin().createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(id).setMaxTtl(Durations.fromHours(1))
                .setParentId(agent.agentId).addSelectors("unix:uid:" + Files.getAttribute(Path.of("/proc/self"), "unix:uid"))
                .build());
    }

    private static X509Svid svidOf(X509Context context, String id) {
        return context.getX509Svids().stream().filter(svid -> svid.getSpiffeId().toString().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError(id + " is not in the X509Context"));
    }

    private static String thumbprint(X509Certificate certificate) throws Exception {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
    }

    /** The agent picks a new registration up at its next sync; until then the caller is PermissionDenied. */
    private void awaitEntry(WorkloadApiClient client, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                X509Context context = client.fetchX509Context();
                if (context.getX509Svids().stream().anyMatch(s -> s.getSpiffeId().toString().equals(id))) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the agent did not serve " + id + " within 30 s: " + last);
    }

    private static X509Svid awaitRenewal(DefaultX509Source source, BigInteger serial, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            X509Svid current = source.getX509Svid();
            if (!current.getLeaf().getSerialNumber().equals(serial)) {
                return current;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("DefaultX509Source still holds serial " + serial.toString(16) + " after " + timeout);
    }

    /** The private key java-spiffe handed over signs what the leaf's public key verifies. */
    private static void assertHoldsItsKey(X509Svid svid) throws Exception {
        byte[] data = "proof".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(svid.getPrivateKey());
        signer.update(data);
        byte[] signature = signer.sign();
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(svid.getLeaf().getPublicKey());
        verifier.update(data);
        assertThat(verifier.verify(signature)).as("the SVID's key matches its certificate").isTrue();
    }

    private static X509Certificate issuerOf(X509Svid svid) {
        List<X509Certificate> chain = svid.getChain();
        assertThat(chain).as("leaf and the issuing CA").hasSizeGreaterThanOrEqualTo(2);
        return chain.get(1);
    }

    private AdminServiceGrpc.AdminServiceBlockingStub admin() {
        return AdminServiceGrpc.newBlockingStub(adminChannel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }
}
