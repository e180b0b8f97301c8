package dev.lanyard.replica;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.ListContractsRequest;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListRegistrationsRequest;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two in-process replicas on one real PostgreSQL: what one of them answers, the other answers the same. */
class ReplicaConsistencyTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String ALICE = "spiffe://lanyard.local/ops/alice";

    @TempDir
    Path dir;

    private Map<String, String> replica(String database, String... extra) {
        var settings = new java.util.HashMap<>(Map.of("database.url", database,
                "database.user", TestPostgres.get().user(), "kek.file", dir.resolve("kek").toString()));
        for (int i = 0; i < extra.length; i += 2) {
            settings.put(extra[i], extra[i + 1]);
        }
        return settings;
    }

    private String newDatabase() throws Exception {
        KeyEncryptionKey.generateFile(dir.resolve("kek"), new SecureRandom());
        return TestPostgres.get().newDatabase();
    }

    @Test
    void bothReplicasServeTheSameBundleDocumentForTheSameKeys() throws Exception {
        String database = newDatabase();
        try (RunningServer a = RunningServer.start(dir.resolve("a"), replica(database));
                RunningServer b = RunningServer.start(dir.resolve("b"), replica(database))) {
            // Started one after the other, each built its bundle at its own time.
            assertThat(get(b, "/bundle")).as("the SPIFFE bundle document of the same keys")
                    .isEqualTo(get(a, "/bundle"));
            long before = sequence(get(a, "/bundle"));

            // Keys change on one: the other takes them up with the same sequence.
            KeyServiceGrpc.newBlockingStub(a.channel(a.adminCredential())).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
            await(() -> sequence(get(a, "/bundle")) > before && java.util.Arrays.equals(get(a, "/bundle"),
                    get(b, "/bundle")));
        }
    }

    @Test
    void contractsPublishedOnBothAtOnceAreTheSameOnBoth() throws Exception {
        String database = newDatabase();
        try (RunningServer a = RunningServer.start(dir.resolve("a"), replica(database));
                RunningServer b = RunningServer.start(dir.resolve("b"), replica(database));
                Connection keysLocked = DriverManager.getConnection(database);
                Connection auditLocked = DriverManager.getConnection(database)) {
            var onA = ContractServiceGrpc.newBlockingStub(a.channel(a.adminCredential())).withDeadlineAfter(60,
                    TimeUnit.SECONDS);
            var onB = ContractServiceGrpc.newBlockingStub(b.channel(b.adminCredential())).withDeadlineAfter(60,
                    TimeUnit.SECONDS);
            // Both change feeds stall (their next look reads signing_keys), as a busy replica's would.
            keysLocked.setAutoCommit(false);
            keysLocked.createStatement().execute("lock table signing_keys in access exclusive mode");
            // Both publishes read what is published, then wait for the audit chain's head.
            auditLocked.setAutoCommit(false);
            auditLocked.createStatement().execute("select * from audit_head for update");
            ExecutorService calls = Executors.newFixedThreadPool(2);
            try {
                Future<?> payments = calls.submit(() -> onA.publishContracts(PublishContractsRequest.newBuilder()
                        .setSource("payments").setDescriptorSet(dev.lanyard.testing.ExampleContracts.only("payments")).build()));
                Future<?> ledger = calls.submit(() -> onB.publishContracts(PublishContractsRequest.newBuilder()
                        .setSource("ledger").setDescriptorSet(dev.lanyard.testing.ExampleContracts.only("ledger")).build()));
                await(() -> waitingForLocks(auditLocked) >= 4); // two feeds, two publishes
                auditLocked.commit();
                payments.get(60, TimeUnit.SECONDS);
                ledger.get(60, TimeUnit.SECONDS);
            } finally {
                calls.shutdownNow();
                keysLocked.commit();
            }

            await(() -> contracts(onA).equals(contracts(onB)) && contracts(onA).size() == 2);
        }
    }

    @Test
    void aPolicyFileAppliedOnOneIsInForceOnTheOther() throws Exception {
        String database = newDatabase();
        Path policyFile = dir.resolve("policy.txtpb");
        java.nio.file.Files.writeString(policyFile, """
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.charge" }
                """);
        try (RunningServer a = RunningServer.start(dir.resolve("a"), replica(database, "policy.file",
                policyFile.toString()));
                RunningServer b = RunningServer.start(dir.resolve("b"), replica(database))) {
            a.publishExampleContracts();
            b.register(WEB);
            Credential web = b.bootstrap(WEB);
            var charge = dev.lanyard.v1.IssueTokenRequest.newBuilder().setAudience("payments")
                    .addScopes("payments.charge").build();
            assertThat(a.tokens(web).issueToken(charge).getToken()).isNotEmpty();

            await(() -> {
                try {
                    return !b.tokens(web).issueToken(charge).getToken().isEmpty();
                } catch (StatusRuntimeException e) {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                    return false;
                }
            });

            // The stored version is the file's own: a restart with the same file applies it again.
            a.restart();
            assertThat(a.tokens(web).issueToken(charge).getToken()).isNotEmpty();
        }
    }

    @Test
    void anAdminIdThatAnotherReplicaRegisteredAsAWorkloadIsNoAdmin() throws Exception {
        String database = newDatabase();
        // A rolling change of admin.spiffe-ids: the first replica has the new admin, the second not yet.
        try (RunningServer a = RunningServer.start(dir.resolve("a"), replica(database,
                "admin.spiffe-ids", "spiffe://lanyard.local/lanyard/admin," + ALICE));
                RunningServer b = RunningServer.start(dir.resolve("b"), replica(database))) {
            // The second does not know ALICE for an admin: it registers her and serves her a workload SVID.
            b.register(ALICE);
            Credential alice = b.bootstrap(ALICE);

            StatusRuntimeException refused = catchThrowableOfType(StatusRuntimeException.class,
                    () -> AdminServiceGrpc.newBlockingStub(a.channel(alice)).withDeadlineAfter(30, TimeUnit.SECONDS)
                            .listRegistrations(ListRegistrationsRequest.getDefaultInstance()));
            assertThat(refused).as("a workload's certificate admitted as an admin's").isNotNull();
            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(refused.getStatus().getDescription()).contains("also registered as a workload");
            assertThat(a.admin().listRegistrations(ListRegistrationsRequest.getDefaultInstance())
                    .getRegistrationsCount()).as("the configured admin still is one").isEqualTo(1);
        }
    }

    @Test
    void aWorkloadCertificateOfAnAdminIdStaysNoAdminsAfterItsRegistrationIsDeleted() throws Exception {
        String database = newDatabase();
        try (RunningServer a = RunningServer.start(dir.resolve("a"), replica(database,
                "admin.spiffe-ids", "spiffe://lanyard.local/lanyard/admin," + ALICE));
                RunningServer b = RunningServer.start(dir.resolve("b"), replica(database))) {
            b.register(ALICE);
            Credential alice = b.bootstrap(ALICE);
            // The registration goes; the certificate issued on it is still valid, and it is still a workload's.
            b.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(ALICE).build());

            StatusRuntimeException refused = catchThrowableOfType(StatusRuntimeException.class,
                    () -> AdminServiceGrpc.newBlockingStub(a.channel(alice)).withDeadlineAfter(30, TimeUnit.SECONDS)
                            .listRegistrations(ListRegistrationsRequest.getDefaultInstance()));
            assertThat(refused).as("a workload's certificate admitted as an admin's").isNotNull();
            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(refused.getStatus().getDescription()).contains("issued to a workload");
            assertThat(a.server().audit().recent(50)).anyMatch(e -> e.actor().equals(ALICE)
                    && e.action().equals("rpc.authorize") && e.outcome() == dev.lanyard.audit.AuditEvent.Outcome.REFUSED);
            assertThat(a.admin().listRegistrations(ListRegistrationsRequest.getDefaultInstance())
                    .getRegistrationsCount()).as("the configured admin still is one").isZero();
        }
    }

    @Test
    void aReplicaWhoseConnectionsWereCutCatchesUpWithWhatTheOtherChanged() throws Exception {
        String database = newDatabase();
        try (RunningServer a = RunningServer.start(dir.resolve("a"), replica(database));
                RunningServer b = RunningServer.start(dir.resolve("b"), replica(database))) {
            a.register(WEB);
            Credential web = a.bootstrap(WEB);
            // PostgreSQL restarted, as far as the replicas can tell: every connection they had is gone.
            try (Connection c = DriverManager.getConnection(database); Statement s = c.createStatement()) {
                s.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database()"
                        + " and pid <> pg_backend_pid()");
            }
            // Calls that meet a connection of the pool that is gone are refused UNAVAILABLE (retry), never INTERNAL.
            var revoke = dev.lanyard.v1.RevokeRequest.newBuilder().setTarget(dev.lanyard.v1.RevocationTarget.newBuilder()
                    .setSerial(web.leaf().getSerialNumber().toString(16))).build();
            for (int attempt = 1; ; attempt++) {
                try {
                    a.revocations().revoke(revoke);
                    break;
                } catch (StatusRuntimeException e) {
                    assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(Status.Code.UNAVAILABLE);
                    assertThat(attempt).as("attempts").isLessThan(20);
                }
            }
            String keyId = b.server().caRotation().active().ca().intermediate().keyId();
            await(() -> b.server().crls().forIssuer(keyId).orElseThrow().entries() == 1);
            StatusRuntimeException refused = catchThrowableOfType(StatusRuntimeException.class, () -> b.renew(web));
            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        }
    }

    private static byte[] get(RunningServer server, String path) {
        try {
            HttpResponse<byte[]> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(server.httpUrl(path))).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertThat(response.statusCode()).isEqualTo(200);
            return response.body();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static java.util.List<String> contracts(ContractServiceGrpc.ContractServiceBlockingStub contracts) {
        return contracts.listContracts(ListContractsRequest.getDefaultInstance()).getContractsList().stream()
                .map(c -> c.getAudience()).toList();
    }

    private static long waitingForLocks(Connection c) {
        try (Statement s = c.createStatement(); java.sql.ResultSet row = s.executeQuery("select count(*) from"
                + " pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")) {
            row.next();
            return row.getLong(1);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long sequence(byte[] bundle) {
        try {
            return ((Number) com.nimbusds.jose.util.JSONObjectUtils.parse(new String(bundle,
                    java.nio.charset.StandardCharsets.UTF_8)).get("spiffe_sequence")).longValue();
        } catch (java.text.ParseException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("within 15 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
