package dev.lanyard.replica;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.ServerProcess;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.ApplyPolicyRequest;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListCertificatesRequest;
import dev.lanyard.v1.ListCertificatesResponse;
import dev.lanyard.v1.ListContractsRequest;
import dev.lanyard.v1.ListKeysRequest;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.ListRevocationsResponse;
import dev.lanyard.v1.Policy;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.PublishContractsRequest;
import dev.lanyard.v1.RenewCertificateRequest;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.RotateKeysRequest;
import dev.lanyard.v1.TokenServiceGrpc;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two server processes (separate JVMs) on one real PostgreSQL, started at the same moment on an
 * empty database. The tests run in order on the same pair; the last one kills a replica. Each
 * propagation time is printed ("replica propagation: ...") for the record.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoReplicaProcessesTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final long SECOND_NANOS = TimeUnit.SECONDS.toNanos(1);

    @TempDir
    static Path dir;
    String databaseUrl;
    ServerProcess a;
    ServerProcess b;

    @BeforeAll
    void startBothAtOnce() throws Exception {
        databaseUrl = TestPostgres.get().newDatabase();
        // Replicas share the key-encryption key, as they share the database (in production: a KEK file or passphrase).
        KeyEncryptionKey.generateFile(dir.resolve("kek"), new SecureRandom());
        a = ServerProcess.launch("replica-a", properties("a"), dir.resolve("a/admin"));
        b = ServerProcess.launch("replica-b", properties("b"), dir.resolve("b/admin"));
        a.awaitReady();
        b.awaitReady();
    }

    @AfterAll
    void stop() throws Exception {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    @Test
    @Order(1)
    void bothStartedAtOnceOnAnEmptyDatabaseMakeOneRoot() throws Exception {
        assertThat(count("select count(*) from ca_keys where kind = 'ROOT'")).isEqualTo(1);
        assertThat(count("select count(*) from ca_keys where kind = 'INTERMEDIATE' and status = 'ACTIVE'")).isEqualTo(1);
        assertThat(count("select count(*) from signing_keys where status = 'ACTIVE'")).isEqualTo(1);
        assertThat(count("select count(*) from audit_events where action = 'ca.generate'")).isEqualTo(1);
        assertThat(a.admin().bundle()).isEqualTo(b.admin().bundle());
    }

    @Test
    @Order(2)
    void contractsAndAPolicyAppliedOnOneChangeWhatTheOtherMintsWithinOneSecond() throws Exception {
        Credential web = bootstrap(a, b, WEB);
        var contractsOnA = ContractServiceGrpc.newBlockingStub(a.channel(a.admin()));
        var contractsOnB = ContractServiceGrpc.newBlockingStub(b.channel(b.admin()));
        var policyOnA = PolicyServiceGrpc.newBlockingStub(a.channel(a.admin()));
        var tokensOnB = TokenServiceGrpc.newBlockingStub(b.channel(web));
        IssueTokenRequest charge = IssueTokenRequest.newBuilder().setAudience("payments").addScopes("payments.charge")
                .build();
        IssueTokenRequest read = IssueTokenRequest.newBuilder().setAudience("ledger").addScopes("ledger.read").build();

        // The first change of each kind is also the first time the other replica runs that code (cold);
        // the second is what a running replica sees. Both are printed; the second must be within 1 s.
        for (String service : List.of("payments", "ledger")) {
            int before = contractsOnB.listContracts(ListContractsRequest.getDefaultInstance()).getContractsCount();
            contractsOnA.publishContracts(PublishContractsRequest.newBuilder().setSource(service)
                    .setDescriptorSet(dev.lanyard.testing.ExampleContracts.only(service)).build());
            Probe seen = within(System.nanoTime(), () -> contractsOnB.listContracts(ListContractsRequest
                    .getDefaultInstance()).getContractsCount() > before);
            report("contract set " + service + (service.equals("payments") ? " (cold)" : ""), seen);
            if (service.equals("ledger")) {
                assertThat(seen.nanos()).as("contracts on the other replica within 1 s").isLessThan(SECOND_NANOS);
            }
        }

        assertThat(catchThrowableOfType(StatusRuntimeException.class, () -> tokensOnB.issueToken(charge))
                .getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        policyOnA.applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.charge" }
                """)).build());
        report("policy version 1 (cold)", within(System.nanoTime(), () -> mints(tokensOnB, charge)));

        assertThat(mints(tokensOnB, read)).isFalse();
        policyOnA.applyPolicy(ApplyPolicyRequest.newBuilder().setPolicy(policy("""
                version: 2
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.charge" }
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "ledger" scopes: "ledger.read" }
                """)).build());
        Probe seen = within(System.nanoTime(), () -> mints(tokensOnB, read));
        report("policy version 2", seen);
        assertThat(seen.nanos()).as("policy on the other replica within 1 s").isLessThan(SECOND_NANOS);
    }

    @Test
    @Order(3)
    void aRevocationOnOneReachesAWatcherOnTheOtherWithinOneSecond() throws Exception {
        Credential web = bootstrap(a, a, WEB);
        Iterator<RevocationEvent> watch = RevocationServiceGrpc.newBlockingStub(b.channel(web))
                .watchRevocations(WatchRevocationsRequest.getDefaultInstance());
        while (!watch.next().hasHeartbeat()) {
            // replay of what is in force, then a heartbeat: caught up
        }
        var revocations = RevocationServiceGrpc.newBlockingStub(a.channel(a.admin()));
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            for (String jti : List.of("first-stolen-token", "stolen-token")) {
                Future<Long> arrived = reader.submit(() -> {
                    while (true) {
                        RevocationEvent event = watch.next();
                        if (event.hasRevoked() && event.getRevoked().getTarget().getJti().equals(jti)) {
                            return System.nanoTime();
                        }
                    }
                });
                long start = System.nanoTime();
                revocations.revoke(RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setJti(jti))
                        .build());
                long returned = System.nanoTime();
                long took = arrived.get(10, TimeUnit.SECONDS) - start;
                System.out.printf("replica propagation: revocation%s reached a watcher on the other replica %d ms"
                        + " after Revoke was called on one (Revoke itself took %d ms)%n",
                        jti.startsWith("first") ? " (cold)" : "", TimeUnit.NANOSECONDS.toMillis(took),
                        TimeUnit.NANOSECONDS.toMillis(returned - start));
                if (!jti.startsWith("first")) {
                    assertThat(took).as("revocation at a watcher of the other replica within 1 s")
                            .isLessThan(SECOND_NANOS);
                }
            }
        } finally {
            reader.shutdownNow();
        }
    }

    @Test
    @Order(4)
    void forcingJwtAndCaRotationsOnBothAtOnceLeavesExactlyOneActiveKeyEachTime() throws Exception {
        var keysA = KeyServiceGrpc.newBlockingStub(a.channel(a.admin()));
        var keysB = KeyServiceGrpc.newBlockingStub(b.channel(b.admin()));
        List<Runnable> forcers = List.of(
                () -> rotate(keysA, KeyKind.KEY_KIND_JWT), () -> rotate(keysB, KeyKind.KEY_KIND_JWT),
                () -> rotate(keysA, KeyKind.KEY_KIND_X509), () -> rotate(keysB, KeyKind.KEY_KIND_X509));
        CyclicBarrier together = new CyclicBarrier(forcers.size());
        ExecutorService threads = Executors.newFixedThreadPool(forcers.size());
        Probe slowest = new Probe(0, 0);
        Set<String> activeJwtKeys = new HashSet<>();
        try {
            for (int round = 0; round < 20; round++) {
                List<Future<?>> done = new ArrayList<>();
                for (Runnable forcer : forcers) {
                    done.add(threads.submit(() -> {
                        together.await(30, TimeUnit.SECONDS);
                        forcer.run();
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get(60, TimeUnit.SECONDS);
                }
                long returned = System.nanoTime();
                assertThat(count("select count(*) from signing_keys where status = 'ACTIVE'"))
                        .as("active JWT keys after round %d", round).isEqualTo(1);
                assertThat(count("select count(*) from ca_keys where kind = 'INTERMEDIATE' and status = 'ACTIVE'"))
                        .as("active issuing CAs after round %d", round).isEqualTo(1);
                String active = text("select kid from signing_keys where status = 'ACTIVE'");
                activeJwtKeys.add(active);
                Probe seen = within(returned, () -> activeJwt(keysA).equals(active) && activeJwt(keysB).equals(active));
                if (round == 0) {
                    report("active JWT key, round 1 (cold), on both replicas", seen);
                } else {
                    slowest = seen.nanos() > slowest.nanos() ? seen : slowest;
                }
                Thread.sleep(1_100); // the publish lead: the key prepared this round may be activated the next
            }
        } finally {
            threads.shutdownNow();
        }
        report("active JWT key, slowest of rounds 2-20, on both replicas", slowest);
        assertThat(activeJwtKeys).as("keys really rotated").hasSizeGreaterThanOrEqualTo(8);
        assertThat(slowest.nanos()).as("new active key on both replicas within 1 s").isLessThan(SECOND_NANOS);
    }

    @Test
    @Order(5)
    void killingOneUnderLoadLosesNothingTheOtherCannotServe() throws Exception {
        Credential admin = a.admin();
        var issuedOnA = new ConcurrentLinkedQueue<String>();
        var newestOnA = new java.util.concurrent.atomic.AtomicReference<Credential>();
        var revokedOnA = new ConcurrentLinkedQueue<String>();
        AtomicBoolean running = new AtomicBoolean(true);
        Credential start = bootstrap(a, a, WEB);
        ExecutorService load = Executors.newFixedThreadPool(4);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            workers.add(load.submit(() -> {
                Credential current = start;
                while (running.get()) {
                    try {
                        KeyPair keys = Csrs.ecP256();
                        current = RunningServer.credential(keys, CertificateServiceGrpc.newBlockingStub(
                                a.channel(current)).withDeadlineAfter(10, TimeUnit.SECONDS).renewCertificate(
                                RenewCertificateRequest.newBuilder().setCsr(ByteString.copyFrom(Csrs.csr(keys))).build()));
                        issuedOnA.add(current.leaf().getSerialNumber().toString(16));
                        newestOnA.set(current);
                    } catch (StatusRuntimeException e) {
                        if (running.get()) {
                            Thread.sleep(20);
                        }
                    }
                }
                return null;
            }));
            int worker = w;
            workers.add(load.submit(() -> {
                var revocations = RevocationServiceGrpc.newBlockingStub(a.channel(admin));
                for (int i = 0; running.get(); i++) {
                    String jti = "load-" + worker + "-" + i;
                    try {
                        revocations.withDeadlineAfter(10, TimeUnit.SECONDS).revoke(RevokeRequest.newBuilder()
                                .setTarget(RevocationTarget.newBuilder().setJti(jti)).build());
                        revokedOnA.add(jti);
                    } catch (StatusRuntimeException e) {
                        if (running.get()) {
                            Thread.sleep(20);
                        }
                    }
                }
                return null;
            }));
        }
        Thread.sleep(2_000);
        a.kill(); // SIGKILL mid-load: calls in flight fail, and were never acknowledged
        running.set(false);
        load.shutdown();
        assertThat(load.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        assertThat(issuedOnA).as("certificates acknowledged by the killed replica").isNotEmpty();
        assertThat(revokedOnA).as("revocations acknowledged by the killed replica").isNotEmpty();

        Set<String> onB = new HashSet<>();
        var adminB = AdminServiceGrpc.newBlockingStub(b.channel(b.admin()));
        String page = "";
        do {
            ListCertificatesResponse response = adminB.listCertificates(ListCertificatesRequest.newBuilder()
                    .setSpiffeId(WEB).setPageSize(1000).setPageToken(page).build());
            response.getCertificatesList().forEach(c -> onB.add(c.getSerialNumber()));
            page = response.getNextPageToken();
        } while (!page.isEmpty());
        assertThat(onB).containsAll(issuedOnA);

        Set<String> revokedOnB = new HashSet<>();
        var revocationsB = RevocationServiceGrpc.newBlockingStub(b.channel(b.admin()));
        page = "";
        do {
            ListRevocationsResponse response = revocationsB.listRevocations(ListRevocationsRequest.newBuilder()
                    .setKind("jti").setPageSize(1000).setPageToken(page).build());
            response.getRevocationsList().forEach(r -> revokedOnB.add(r.getTarget().getJti()));
            page = response.getNextPageToken();
        } while (!page.isEmpty());
        assertThat(revokedOnB).containsAll(revokedOnA);

        // B serves the workload A was renewing: it renews the newest certificate A acknowledged.
        KeyPair keys = Csrs.ecP256();
        Credential renewedOnB = RunningServer.credential(keys, CertificateServiceGrpc.newBlockingStub(
                b.channel(newestOnA.get())).withDeadlineAfter(30, TimeUnit.SECONDS)
                .renewCertificate(RenewCertificateRequest.newBuilder().setCsr(ByteString.copyFrom(Csrs.csr(keys))).build()));
        assertThat(renewedOnB.leaf().getSubjectAlternativeNames().iterator().next().get(1)).isEqualTo(WEB);
        System.out.printf("replica kill: %d certificates and %d revocations acknowledged by the killed replica,"
                + " all served by the other%n", issuedOnA.size(), revokedOnA.size());
    }

    private static Policy policy(String text) throws Exception {
        Policy.Builder policy = Policy.newBuilder();
        com.google.protobuf.TextFormat.merge(text, policy);
        return policy.build();
    }

    private static boolean mints(TokenServiceGrpc.TokenServiceBlockingStub tokens, IssueTokenRequest request) {
        try {
            return !tokens.issueToken(request).getToken().isEmpty();
        } catch (StatusRuntimeException e) {
            return false;
        }
    }

    private Path properties(String name) throws Exception {
        Path home = Files.createDirectories(dir.resolve(name));
        Path file = home.resolve("server.properties");
        Files.writeString(file, String.join("\n",
                "trust-domain=lanyard.local",
                "data-dir=" + home,
                "grpc.host=127.0.0.1",
                "grpc.port=0",
                "http.host=127.0.0.1",
                "http.port=0",
                "database.url=" + databaseUrl,
                "database.user=" + TestPostgres.get().user(),
                "kek.file=" + dir.resolve("kek"),
                "admin.credential-dir=" + home.resolve("admin"),
                // short publication lead so a forced rotation can activate a second after it prepared
                "bundle.refresh-hint=500ms",
                "jwt.publish-lead=1s",
                ""));
        return file;
    }

    /** Registers {@code spiffeId} through {@code admin}'s replica and bootstraps it on {@code on}. */
    private static Credential bootstrap(ServerProcess admin, ServerProcess on, String spiffeId) {
        var adminStub = AdminServiceGrpc.newBlockingStub(admin.channel(admin.admin()));
        try {
            adminStub.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(spiffeId).build());
        } catch (StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS);
        }
        String token = adminStub.createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(spiffeId).build())
                .getToken();
        KeyPair keys = Csrs.ecP256();
        return RunningServer.credential(keys, CertificateServiceGrpc.newBlockingStub(on.channel(null))
                .issueCertificate(IssueCertificateRequest.newBuilder()
                        .setAttestation(RunningServer.joinTokenAttestation(token))
                        .setCsr(ByteString.copyFrom(Csrs.csr(keys))).build()));
    }

    private static void rotate(KeyServiceGrpc.KeyServiceBlockingStub keys, KeyKind kind) {
        try {
            keys.withDeadlineAfter(30, TimeUnit.SECONDS).rotateKeys(RotateKeysRequest.newBuilder().setKind(kind).build());
        } catch (StatusRuntimeException e) {
            // too early to activate, or the other replica held the lease: a refusal, never a second active key
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        }
    }

    private static String activeJwt(KeyServiceGrpc.KeyServiceBlockingStub keys) {
        return keys.listKeys(ListKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build()).getKeysList().stream()
                .filter(k -> k.getStatus().equals("ACTIVE")).map(k -> k.getKeyId()).reduce((x, y) -> x + "," + y)
                .orElse("");
    }

    /**
     * When a change was seen: {@code nanos} from the write's acknowledgment to the start of the first
     * call on the other replica that saw it (a caller asking then gets the new answer), and how long
     * that call took (on a loaded machine, far longer than the propagation itself).
     */
    record Probe(long nanos, long probeNanos) {
    }

    /** Calls {@code condition} until it holds (at most 10 s); {@code start} is when the write was acknowledged. */
    private static Probe within(long start, BooleanSupplier condition) throws InterruptedException {
        long deadline = start + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            long probe = System.nanoTime();
            if (condition.getAsBoolean()) {
                return new Probe(probe - start, System.nanoTime() - probe);
            }
            assertThat(System.nanoTime()).as("within 10 s").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    private static void report(String what, Probe probe) {
        System.out.printf("replica propagation: %s: a call to the other replica started %d ms after the write was"
                + " acknowledged saw it (that call took %d ms)%n", what, TimeUnit.NANOSECONDS.toMillis(probe.nanos()),
                TimeUnit.NANOSECONDS.toMillis(probe.probeNanos()));
    }

    private long count(String sql) throws Exception {
        return Long.parseLong(text(sql));
    }

    private String text(String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(databaseUrl); Statement s = c.createStatement();
                ResultSet rows = s.executeQuery(sql)) {
            assertThat(rows.next()).isTrue();
            return rows.getString(1);
        }
    }
}
