package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.attest.StoredJoinToken;
import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.ca.PendingCaKey;
import dev.lanyard.ca.StoredCaKey;
import dev.lanyard.console.LoginLinkRepository;
import dev.lanyard.federation.FederationRelationship;
import dev.lanyard.registration.Registration;
import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.rotation.LeaseLostException;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.token.StoredSigningKey;
import dev.lanyard.v1.Policy;
import dev.lanyard.revocation.RevocationEvent;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationRepository;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.spiffe.SpiffeId;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * One storage contract, run against every database we support (SPIRE's sqltest suite): a
 * subclass only says how to open a fresh database.
 */
abstract class RepositoryContractTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00.123456Z").truncatedTo(ChronoUnit.MILLIS);
    private static final SpiffeId A = SpiffeId.parse("spiffe://example.org/a");
    private static final SpiffeId B = SpiffeId.parse("spiffe://example.org/b");

    Database db;

    abstract Database openFreshDatabase() throws Exception;

    @BeforeEach
    void open() throws Exception {
        db = openFreshDatabase();
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void aLoginLinkIsRedeemedOnceWithItsAdminAndTheEndOfTheAdminsCertificate() {
        var links = new JdbcLoginLinkRepository(db.dataSource());
        byte[] hash = new byte[32];
        hash[0] = 7;
        var grant = new LoginLinkRepository.Grant(A.toString(), "1f", T.plus(Duration.ofMinutes(10)));
        links.insert(hash, grant, T, T.plus(Duration.ofMinutes(1)));
        assertThat(links.redeem(hash, T.plusSeconds(1))).contains(grant);
        assertThat(links.redeem(hash, T.plusSeconds(2))).as("used once").isEmpty();
    }

    @Test
    void twoRedemptionsOfOneLinkAtOnceGiveItToExactlyOne() throws Exception {
        var links = new JdbcLoginLinkRepository(db.dataSource());
        var grant = new LoginLinkRepository.Grant(A.toString(), "1f", T.plus(Duration.ofMinutes(10)));
        for (int round = 0; round < 10; round++) {
            byte[] hash = new byte[32];
            hash[0] = (byte) round;
            hash[1] = 9;
            links.insert(hash, grant, T, T.plus(Duration.ofMinutes(1)));
            var start = new java.util.concurrent.CountDownLatch(1);
            var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                var first = pool.submit(() -> {
                    start.await();
                    return links.redeem(hash, T.plusSeconds(1));
                });
                var second = pool.submit(() -> {
                    start.await();
                    return links.redeem(hash, T.plusSeconds(1));
                });
                start.countDown();
                assertThat(Stream.of(first.get(), second.get()).filter(Optional::isPresent).count())
                        .as("round %d", round).isEqualTo(1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void commitsAreOnStableStorageBeforeTheyReturn() throws Exception {
        var repo = new JdbcRegistrationRepository(db.dataSource());
        Optional<Database.SyncCounts> before = db.syncCounts();
        repo.create(new Registration(A, List.of(), Duration.ofHours(1), T));
        if (before.isPresent()) { // H2: the store syncs its file itself (H2DurabilityTest watches the fsync)
            assertThat(db.syncCounts().orElseThrow().syncs()).isGreaterThan(before.get().syncs());
        } else if (db.dialect() == Dialect.SQLITE) { // SQLite syncs its write-ahead log at each commit with FULL
            try (var c = db.dataSource().getConnection(); var s = c.createStatement()) {
                try (var row = s.executeQuery("pragma journal_mode")) {
                    row.next();
                    assertThat(row.getString(1)).isEqualTo("wal");
                }
                try (var row = s.executeQuery("pragma synchronous")) {
                    row.next();
                    assertThat(row.getInt(1)).isEqualTo(2); // FULL
                }
            }
        } else { // PostgreSQL syncs its WAL on commit unless synchronous_commit is off
            try (var c = db.dataSource().getConnection(); var s = c.createStatement();
                    var row = s.executeQuery("select current_setting('synchronous_commit')")) {
                row.next();
                assertThat(row.getString(1)).isNotEqualTo("off");
            }
        }
    }

    @Test
    void registrations() {
        var repo = new JdbcRegistrationRepository(db.dataSource());
        Registration a = new Registration(A, List.of("a.example.org", "a2.example.org"), Duration.ofHours(2), T);
        assertThat(repo.create(a)).isTrue();
        assertThat(repo.create(new Registration(A, List.of(), Duration.ofHours(1), T))).isFalse();
        assertThat(repo.find(A)).contains(a);
        assertThat(repo.create(new Registration(B, List.of(), Duration.ofHours(1), T))).isTrue();
        assertThat(repo.list(null, 1)).extracting(Registration::spiffeId).containsExactly(A);
        assertThat(repo.list(A.toString(), 10)).extracting(Registration::spiffeId).containsExactly(B);
        assertThat(repo.find(B).orElseThrow().dnsNames()).isEmpty();
        assertThat(repo.delete(A)).isTrue();
        assertThat(repo.delete(A)).isFalse();
        assertThat(repo.find(A)).isEmpty();
    }

    @Test
    void joinTokensAreSingleUseAndGoWithTheirRegistration() {
        var registrations = new JdbcRegistrationRepository(db.dataSource());
        var tokens = new JdbcJoinTokenRepository(db.dataSource());
        registrations.create(new Registration(A, List.of(), Duration.ofHours(1), T));
        byte[] hash = new byte[32];
        hash[0] = 7;
        tokens.insert(new StoredJoinToken("t1", hash, A, T, T.plusSeconds(600), Optional.empty()));
        tokens.insert(new StoredJoinToken("t2", hash, A, T, T.plusSeconds(600), Optional.empty()));
        StoredJoinToken found = tokens.find("t1").orElseThrow();
        assertThat(found.secretHash()).isEqualTo(hash);
        assertThat(found.expiresAt()).isEqualTo(T.plusSeconds(600));
        assertThat(tokens.markUsed("t1", T.plusSeconds(5))).isTrue();
        assertThat(tokens.markUsed("t1", T.plusSeconds(6))).isFalse();
        assertThat(tokens.markUsed("nope", T)).isFalse();
        assertThat(tokens.find("t1").orElseThrow().usedAt()).contains(T.plusSeconds(5));
        registrations.delete(A);
        assertThat(tokens.find("t2")).as("unused token deleted with its registration").isEmpty();
        assertThat(tokens.find("t1")).as("used token kept as history").isPresent();
    }

    @Test
    void issuedCertificatesPageNewestFirst() {
        var repo = new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource()));
        for (int i = 0; i < 5; i++) {
            repo.record(new IssuedCertificateRecord("a" + i, i % 2 == 0 ? A : B, T, T.plusSeconds(3600), "f" + i,
                    T.plusSeconds(i), "k1"), issuance("a" + i));
        }
        List<String> seen = new ArrayList<>();
        Optional<String> cursor = Optional.empty();
        do {
            IssuedCertificateRepository.Page page = repo.list(Optional.empty(), cursor, 2);
            page.certificates().forEach(c -> seen.add(c.serialHex()));
            cursor = page.nextCursor();
        } while (cursor.isPresent());
        assertThat(seen).containsExactly("a4", "a3", "a2", "a1", "a0");
        assertThat(repo.list(Optional.of(A), Optional.empty(), 10).certificates())
                .extracting(IssuedCertificateRecord::serialHex).containsExactly("a4", "a2", "a0");
        assertThat(repo.findBySerial("a3").orElseThrow().spiffeId()).isEqualTo(B);
    }

    @Test
    void aCertificateIsOnFileOnlyWithItsAuditRecord() {
        var audit = new JdbcAuditLog(db.dataSource());
        var repo = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
        repo.record(new IssuedCertificateRecord("b1", A, T, T.plusSeconds(3600), "f1", T, "k1"), issuance("b1"));
        assertThat(audit.recent(10)).extracting(AuditEvent::target).containsExactly(A + " serial b1");

        // A second certificate with the same serial fails: neither it nor its audit record is stored.
        assertThatThrownBy(() -> repo.record(new IssuedCertificateRecord("b1", B, T, T.plusSeconds(3600), "f2", T,
                "k1"), issuance("b1 again"))).isInstanceOf(StoreException.class);
        assertThat(audit.recent(10)).hasSize(1);
        assertThat(repo.findBySerial("b1").orElseThrow().spiffeId()).isEqualTo(A);
        var verifier = new AuditChain.Verifier();
        assertThat(audit.list(AuditQuery.all(0, 10))).allSatisfy(r -> assertThat(verifier.accept(r)).isEmpty());
    }

    @Test
    void aCertificateIsOnFileWithWhatItWasIssuedAs() throws Exception {
        Registration registration = new Registration(A, List.of(), Duration.ofHours(1), T);
        new JdbcRegistrationRepository(db.dataSource()).create(registration);
        var repo = new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource()));
        repo.record(new IssuedCertificateRecord("c1", A, T, T.plusSeconds(3600), "f1", T, "k1"), issuance("c1"));
        repo.recordForWorkload(new IssuedCertificateRecord("c2", A, T, T.plusSeconds(3600), "f2", T, "k1"),
                issuance("c2"), List.of(), registration).get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(repo.issuedToWorkload("c1")).as("the server's own credential").isFalse();
        assertThat(repo.issuedToWorkload("c2")).as("a workload's").isTrue();
        assertThat(repo.issuedToWorkload("c3")).as("not on file: issued elsewhere").isFalse();
    }

    @RepeatedTest(10) // a race: several interleavings per run
    void concurrentIssuancesShareCommitsAndABadOneFailsAlone() throws Exception {
        // Two "replicas" (each its own appender) and eight writers each; every tenth certificate
        // reuses serial "dup", which only the first to commit may have.
        List<JdbcIssuedCertificateRepository> replicas = List.of(
                new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource())),
                new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource())));
        var stored = new java.util.concurrent.atomic.AtomicInteger();
        var refused = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            int writer = w;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 30; i++) {
                    String serial = i % 10 == 9 ? "dup" : "w" + writer + "-" + i;
                    try {
                        replicas.get(writer % 2).record(new IssuedCertificateRecord(serial, A, T, T.plusSeconds(3600),
                                "f", T, "k1"), issuance(serial));
                        stored.incrementAndGet();
                    } catch (StoreException e) {
                        refused.incrementAndGet();
                    }
                }
            });
            thread.start();
            writers.add(thread);
        }
        for (Thread writer : writers) {
            writer.join();
        }
        assertThat(stored.get()).isEqualTo(8 * 27 + 1);
        assertThat(refused.get()).isEqualTo(8 * 3 - 1);
        var audit = new JdbcAuditLog(db.dataSource());
        var records = audit.list(AuditQuery.all(0, 1000));
        assertThat(records).hasSize(stored.get());
        assertThat(records).filteredOn(r -> r.event().target().endsWith(" serial dup")).hasSize(1);
        var verifier = new AuditChain.Verifier();
        assertThat(records).allSatisfy(r -> assertThat(verifier.accept(r)).isEmpty());
        assertThat(verifier.lastId()).isEqualTo(stored.get());
    }

    @Test
    void aWorkloadsCertificateOrTokenIsStoredOnlyWhileNeitherItsIdentityNorThePresentedCertificateIsRevoked()
            throws Exception {
        Registration registration = new Registration(A, List.of(), Duration.ofHours(1), T);
        new JdbcRegistrationRepository(db.dataSource()).create(registration);
        var audit = new JdbcAuditLog(db.dataSource());
        var issued = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
        var tokens = new JdbcMintedTokenRepository(audit);
        var revocations = new JdbcRevocationRepository(db.dataSource());
        java.util.function.BiFunction<String, String, java.util.concurrent.CompletableFuture<Void>> certificate =
                (serial, presented) -> issued.recordForWorkload(new IssuedCertificateRecord(serial, A, T,
                        T.plusSeconds(3600), "f", T, "k1"), issuance(serial), List.of(presented), registration);
        java.util.function.BiFunction<String, String, java.util.concurrent.CompletableFuture<Void>> token =
                (jti, presented) -> tokens.record(jti, A, T.plusSeconds(300), new AuditEvent(T, A.toString(),
                        "token.issue", A + " jti " + jti, AuditEvent.Outcome.SUCCESS, ""), List.of(presented));

        certificate.apply("c1", "aa1").get(30, java.util.concurrent.TimeUnit.SECONDS);
        token.apply("j1", "aa1").get(30, java.util.concurrent.TimeUnit.SECONDS);
        // The certificate the caller presented is revoked: refused, naming it.
        revocations.revoke(List.of(newRevocation(RevocationTarget.serial("aa1"), Optional.of(T.plusSeconds(3600)))));
        String presentedRevoked = "certificate aa1 was revoked while this request was being served";
        assertRefused(certificate.apply("c2", "aa1"), presentedRevoked);
        assertRefused(token.apply("j2", "aa1"), presentedRevoked);
        certificate.apply("c3", "aa2").get(30, java.util.concurrent.TimeUnit.SECONDS);
        // A node agent asks for the workload: its own certificate (the second serial) is revoked.
        assertRefused(issued.recordForWorkload(new IssuedCertificateRecord("c5", A, T, T.plusSeconds(3600), "f", T,
                "k1"), issuance("c5"), List.of("aa2", "aa1"), registration), presentedRevoked);
        // The identity is revoked: refused, naming it.
        revocations.revokeIdentity(newRevocation(RevocationTarget.spiffeId(A.toString()), Optional.empty()),
                Duration.ZERO, false);
        assertRefused(certificate.apply("c4", "aa2"), A + " was revoked while this request was being served");
        assertRefused(token.apply("j4", "aa2"), A + " was revoked while this request was being served");

        // Nothing refused was stored, neither the record nor its audit record.
        assertThat(Stream.of("c1", "c2", "c3", "c4", "c5").filter(serial -> issued.findBySerial(serial).isPresent()))
                .containsExactly("c1", "c3");
        assertThat(issued.findBySerial("c1")).contains(new IssuedCertificateRecord("c1", A, T, T.plusSeconds(3600),
                "f", T, "k1"));
        assertThat(audit.recent(100)).extracting(AuditEvent::target)
                .containsExactlyInAnyOrder(A + " serial c1", A + " jti j1", A + " serial c3");
    }

    @Test
    void aJoinTokenRedeemedAlongsideACertificateIsUsedOnlyIfTheCertificateIsStored() throws Exception {
        Registration registration = new Registration(A, List.of(), Duration.ofHours(1), T);
        new JdbcRegistrationRepository(db.dataSource()).create(registration);
        var audit = new JdbcAuditLog(db.dataSource());
        var issued = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
        var tokens = new JdbcJoinTokenRepository(db.dataSource());
        tokens.insert(new StoredJoinToken("t1", new byte[32], A, T, T.plusSeconds(600), Optional.empty()));
        IssuedCertificateRepository.Alongside redeem = () -> {
            if (!tokens.markUsed("t1", T.plusSeconds(1))) {
                throw dev.lanyard.refusal.Refusal.denied("join token was already used");
            }
        };
        java.util.function.Function<String, java.util.concurrent.CompletableFuture<Void>> certificate =
                serial -> issued.recordForWorkload(new IssuedCertificateRecord(serial, A, T, T.plusSeconds(3600), "f",
                        T, "k1"), issuance(serial), List.of(), registration, redeem);
        issued.record(new IssuedCertificateRecord("taken", A, T, T.plusSeconds(3600), "f", T, "k1"), issuance("taken"));

        // The certificate cannot be stored (its serial is taken): the token stays unused.
        assertThatThrownBy(() -> certificate.apply("taken").get(30, java.util.concurrent.TimeUnit.SECONDS))
                .hasRootCauseInstanceOf(java.sql.SQLException.class);
        assertThat(tokens.find("t1").orElseThrow().usedAt()).isEmpty();

        certificate.apply("c1").get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(tokens.find("t1").orElseThrow().usedAt()).contains(T.plusSeconds(1));
        // Used now: refused in the transaction, which stores nothing.
        assertRefused(certificate.apply("c2"), "join token was already used");
        assertThat(issued.findBySerial("c2")).isEmpty();
        assertThat(audit.recent(10)).extracting(AuditEvent::target)
                .containsExactlyInAnyOrder(A + " serial taken", A + " serial c1");
    }

    @Test
    void anAgentSavedAlongsideItsCertificateIsKeptOnlyWithIt() throws Exception {
        SpiffeId agent = SpiffeId.parse("spiffe://example.org/lanyard/agent/join_token/t1");
        var issued = new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource()));
        var agents = new JdbcAgentRepository(db.dataSource());
        Registration decided = new Registration(agent, List.of(), Duration.ofHours(1), T);
        java.util.function.Function<String, java.util.concurrent.CompletableFuture<Void>> certificate =
                serial -> issued.recordForWorkload(new IssuedCertificateRecord(serial, agent, T, T.plusSeconds(3600),
                        "f", T, "k1"), issuance(serial), List.of(), decided,
                        () -> agents.save(new dev.lanyard.agent.AgentRecord(agent, "join_token", List.of("s"), T)));
        issued.record(new IssuedCertificateRecord("taken", A, T, T.plusSeconds(3600), "f", T, "k1"), issuance("taken"));

        assertThatThrownBy(() -> certificate.apply("taken").get(30, java.util.concurrent.TimeUnit.SECONDS))
                .hasRootCauseInstanceOf(java.sql.SQLException.class);
        assertThat(agents.find(agent)).as("no agent without its certificate").isEmpty();
        certificate.apply("c1").get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(agents.find(agent).orElseThrow().nodeSelectors()).containsExactly("s");
        assertThat(issued.findBySerial("c1")).isPresent();
    }

    @RepeatedTest(5) // a race
    void twoCertificatesOnOneJoinTokenAtOnceStoreExactlyOne() throws Exception {
        Registration registration = new Registration(A, List.of(), Duration.ofHours(1), T);
        new JdbcRegistrationRepository(db.dataSource()).create(registration);
        var tokens = new JdbcJoinTokenRepository(db.dataSource());
        tokens.insert(new StoredJoinToken("t1", new byte[32], A, T, T.plusSeconds(600), Optional.empty()));
        // Two "replicas", each its own appender, so the two are not in one shared transaction.
        List<JdbcIssuedCertificateRepository> replicas = List.of(
                new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource())),
                new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource())));
        List<java.util.concurrent.CompletableFuture<Void>> stored = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            String serial = "c" + i;
            stored.add(replicas.get(i).recordForWorkload(new IssuedCertificateRecord(serial, A, T, T.plusSeconds(3600),
                    "f", T, "k1"), issuance(serial), List.of(), registration, () -> {
                        if (!tokens.markUsed("t1", T.plusSeconds(1))) {
                            throw dev.lanyard.refusal.Refusal.denied("join token was already used");
                        }
                    }));
        }
        int succeeded = 0;
        for (var future : stored) {
            try {
                future.get(30, java.util.concurrent.TimeUnit.SECONDS);
                succeeded++;
            } catch (java.util.concurrent.ExecutionException e) {
                assertThat(e).hasRootCauseInstanceOf(dev.lanyard.refusal.RefusedInTransaction.class)
                        .rootCause().hasMessageContaining("already used");
            }
        }
        assertThat(succeeded).isOne();
        assertThat(Stream.of("c0", "c1").filter(serial -> replicas.get(0).findBySerial(serial).isPresent()))
                .hasSize(1);
    }

    private static void assertRefused(java.util.concurrent.CompletableFuture<Void> stored, String reason) {
        assertThatThrownBy(() -> stored.get(30, java.util.concurrent.TimeUnit.SECONDS))
                .hasRootCauseInstanceOf(dev.lanyard.refusal.RefusedInTransaction.class)
                .rootCause().hasMessageContaining(reason);
    }

    private static AuditEvent issuance(String serial) {
        return new AuditEvent(T, "spiffe://example.org/admin", "certificate.bootstrap", A + " serial " + serial,
                AuditEvent.Outcome.SUCCESS, "");
    }

    @Test
    void caKeys() {
        var repo = new JdbcCaKeyRepository(db.dataSource());
        repo.insert(StoredCaKey.created("root", StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE, "PEM",
                Optional.empty(), T.plusSeconds(100), T));
        repo.insert(StoredCaKey.created("int", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "PEM2",
                Optional.of("sealed"), T.plusSeconds(50), T.plusSeconds(1)));
        assertThat(repo.updateStatus("int", KeyStatus.PREPARED, KeyStatus.ACTIVE, T.plusSeconds(9)))
                .isTrue();
        assertThat(repo.updateStatus("int", KeyStatus.PREPARED, KeyStatus.ACTIVE, T)).isFalse();
        assertThat(repo.updateStatus("none", KeyStatus.PREPARED, KeyStatus.ACTIVE, T)).isFalse();
        assertThat(repo.find("int").orElseThrow().activatedAt()).contains(T.plusSeconds(9));
        assertThat(repo.all()).extracting(StoredCaKey::id).containsExactly("root", "int");
        assertThat(repo.find("int").orElseThrow().status()).isEqualTo(KeyStatus.ACTIVE);
        assertThat(repo.find("root").orElseThrow().custodyKeyId()).isEmpty();
    }

    @Test
    void aPendingCaKeyBecomesACaKeyInOneStepOnlyOnce() {
        var repo = new JdbcCaKeyRepository(db.dataSource());
        repo.insertPending(new PendingCaKey("next", "custody-next", "CSR", T));
        repo.insertPending(new PendingCaKey("later", "custody-later", "CSR2", T.plusSeconds(1)));
        assertThat(repo.pending()).extracting(PendingCaKey::id).containsExactly("next", "later");
        assertThat(repo.pending().get(0)).isEqualTo(new PendingCaKey("next", "custody-next", "CSR", T));
        StoredCaKey certified = StoredCaKey.created("ski", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "PEM",
                Optional.of("custody-next"), T.plusSeconds(100), T.plusSeconds(2));
        assertThat(repo.certifyPending("next", certified)).isTrue();
        assertThat(repo.certifyPending("next", certified)).as("already certified").isFalse();
        assertThat(repo.pending()).extracting(PendingCaKey::id).containsExactly("later");
        assertThat(repo.all()).containsExactly(certified);
        // A failing insert (the id is taken) keeps the key pending: both writes or neither.
        StoredCaKey clash = StoredCaKey.created("ski", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "PEM",
                Optional.of("custody-later"), T.plusSeconds(100), T.plusSeconds(3));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> repo.certifyPending("later", clash))
                .isInstanceOf(StoreException.class);
        assertThat(repo.pending()).extracting(PendingCaKey::id).containsExactly("later");
    }

    @Test
    void caKeysARotationStepMakesAreInsertedOnlyUnderTheFenceAndForgetTheirKeyOnlyOnceDropped() {
        var leases = new JdbcLeases(db.dataSource());
        Fence fence = leases.acquire("rotation", "r1", T, T.plusSeconds(30)).orElseThrow();
        var repo = new JdbcCaKeyRepository(db.dataSource());
        repo.insert(StoredCaKey.created("i1", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "P1",
                Optional.of("s1"), T.plusSeconds(60), T.plusSeconds(1)), fence);
        Fence taken = leases.acquire("rotation", "r2", T.plusSeconds(31), T.plusSeconds(61)).orElseThrow();
        assertThatThrownBy(() -> repo.insert(StoredCaKey.created("i2", StoredCaKey.Kind.INTERMEDIATE,
                KeyStatus.PREPARED, "P2", Optional.of("s2"), T.plusSeconds(60), T.plusSeconds(32)), fence))
                .isInstanceOf(LeaseLostException.class);
        assertThat(repo.all()).extracting(StoredCaKey::id).containsExactly("i1");
        repo.insert(StoredCaKey.created("i2", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "P2",
                Optional.of("s2"), T.plusSeconds(60), T.plusSeconds(32)), taken);

        assertThat(repo.keyDestroyed("i1")).as("not dropped").isFalse();
        assertThat(repo.find("i1").orElseThrow().custodyKeyId()).contains("s1");
        assertThat(repo.updateStatus("i1", KeyStatus.PREPARED, KeyStatus.DROPPED, T.plusSeconds(40))).isTrue();
        assertThat(repo.keyDestroyed("i1")).isTrue();
        assertThat(repo.find("i1").orElseThrow().custodyKeyId()).isEmpty();
        assertThat(repo.find("i2").orElseThrow().custodyKeyId()).contains("s2");
    }

    @Test
    void aRootThatLeftTheBundleIsDroppedOnceOtherReplicasHearOfItAndItsKeyIsForgottenOnlyThen() {
        var repo = new JdbcCaKeyRepository(db.dataSource());
        var markers = new JdbcChangeMarkers(db.dataSource());
        repo.insert(StoredCaKey.created("root", StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE, "PEM", Optional.of("root-key"),
                T.plusSeconds(600), T));
        String before = markers.read().keys();
        assertThat(repo.keyDestroyed("root")).as("in the bundle").isFalse();

        assertThat(repo.updateStatus("root", KeyStatus.ACTIVE, KeyStatus.DROPPED, T.plusSeconds(60))).isTrue();
        assertThat(repo.updateStatus("root", KeyStatus.ACTIVE, KeyStatus.DROPPED, T.plusSeconds(61))).as("once")
                .isFalse();
        assertThat(markers.read().keys()).as("a replica that polls sees the root go").isNotEqualTo(before);
        assertThat(repo.keyDestroyed("root")).isTrue();
        assertThat(repo.find("root").orElseThrow().custodyKeyId()).isEmpty();
    }

    @Test
    void caKeyActivationRetiresTheOthersInOneFencedStep() {
        var leases = new JdbcLeases(db.dataSource());
        Fence fence = leases.acquire("rotation", "r1", T, T.plusSeconds(30)).orElseThrow();
        var repo = new JdbcCaKeyRepository(db.dataSource());
        repo.insert(StoredCaKey.created("root", StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE, "PEM",
                Optional.empty(), T.plusSeconds(100), T));
        repo.insert(StoredCaKey.created("i1", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.ACTIVE, "P1",
                Optional.of("s"), T.plusSeconds(50), T));
        repo.insert(StoredCaKey.created("i2", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "P2",
                Optional.of("s"), T.plusSeconds(60), T.plusSeconds(1)));
        repo.insert(StoredCaKey.created("i3", StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED, "P3",
                Optional.of("s"), T.plusSeconds(60), T.plusSeconds(2)));

        assertThat(repo.activate("i2", T.plusSeconds(5), fence)).isTrue();
        assertThat(repo.activate("i2", T.plusSeconds(6), fence)).as("no longer prepared").isFalse();
        assertThat(repo.find("i1").orElseThrow().status()).isEqualTo(KeyStatus.RETIRED);
        assertThat(repo.find("i1").orElseThrow().retiredAt()).contains(T.plusSeconds(5));
        assertThat(repo.find("root").orElseThrow().status()).as("roots are not intermediates")
                .isEqualTo(KeyStatus.ACTIVE);

        // Another replica takes the expired lease: the old holder can no longer activate anything.
        Fence taken = leases.acquire("rotation", "r2", T.plusSeconds(31), T.plusSeconds(61)).orElseThrow();
        assertThat(taken.token()).isGreaterThan(fence.token());
        assertThatThrownBy(() -> repo.activate("i3", T.plusSeconds(32), fence)).isInstanceOf(LeaseLostException.class);
        assertThat(repo.all()).filteredOn(k -> k.status() == KeyStatus.ACTIVE)
                .extracting(StoredCaKey::id).containsExactly("root", "i2");
        assertThat(repo.activate("i3", T.plusSeconds(32), taken)).isTrue();
        assertThat(repo.all()).filteredOn(k -> k.status() == KeyStatus.ACTIVE)
                .extracting(StoredCaKey::id).containsExactly("root", "i3");
    }

    @Test
    void signingKeysAreWrittenOnlyUnderTheFenceAndActivateAtomically() {
        var leases = new JdbcLeases(db.dataSource());
        Fence fence = leases.acquire("rotation", "r1", T, T.plusSeconds(30)).orElseThrow();
        var repo = new JdbcSigningKeyRepository(db.dataSource());
        repo.insert(signingKey("k1", KeyStatus.ACTIVE, T), fence);
        repo.insert(signingKey("k2", KeyStatus.PREPARED, T.plusSeconds(1)), fence);
        assertThat(repo.all()).extracting(StoredSigningKey::kid).containsExactly("k1", "k2");
        assertThat(repo.all().get(1)).isEqualTo(signingKey("k2", KeyStatus.PREPARED, T.plusSeconds(1)));

        assertThat(repo.activate("k2", T.plusSeconds(2), fence)).isTrue();
        assertThat(repo.activate("k2", T.plusSeconds(3), fence)).isFalse();
        assertThat(repo.all()).extracting(k -> k.kid() + " " + k.status())
                .containsExactly("k1 RETIRED", "k2 ACTIVE");
        assertThat(repo.all().get(0).retiredAt()).contains(T.plusSeconds(2));
        assertThat(repo.all().get(1).activatedAt()).contains(T.plusSeconds(2));

        // An expired fence writes nothing, even before anyone else took the lease.
        assertThatThrownBy(() -> repo.insert(signingKey("k3", KeyStatus.PREPARED, T.plusSeconds(30)), fence))
                .isInstanceOf(LeaseLostException.class);
        Fence next = leases.acquire("rotation", "r2", T.plusSeconds(40), T.plusSeconds(70)).orElseThrow();
        repo.insert(signingKey("k3", KeyStatus.PREPARED, T.plusSeconds(40)), next);
        assertThatThrownBy(() -> repo.activate("k3", T.plusSeconds(41), fence)).isInstanceOf(LeaseLostException.class);
        assertThat(repo.all()).filteredOn(k -> k.status() == KeyStatus.ACTIVE).extracting(StoredSigningKey::kid)
                .containsExactly("k2");

        assertThat(repo.updateStatus("k2", KeyStatus.ACTIVE, KeyStatus.RETIRED, T.plusSeconds(50))).isTrue();
        assertThat(repo.updateStatus("k2", KeyStatus.ACTIVE, KeyStatus.RETIRED, T.plusSeconds(50))).isFalse();
        assertThat(repo.delete("k1")).isTrue();
        assertThat(repo.delete("k1")).isFalse();
        assertThat(repo.all()).extracting(StoredSigningKey::kid).containsExactly("k2", "k3");
    }

    @Test
    void aLeaseHasOneHolderRenewsWithItsTokenAndIsFreeOnceReleased() throws Exception {
        var leases = new JdbcLeases(db.dataSource());
        // Eight replicas reach for a lease nobody has held yet: exactly one gets it.
        var winners = new java.util.concurrent.ConcurrentLinkedQueue<Fence>();
        var start = new java.util.concurrent.CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int r = 0; r < 8; r++) {
            String holder = "r" + r;
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                leases.acquire("ca-bootstrap", holder, T, T.plusSeconds(30)).ifPresent(winners::add);
            });
            thread.start();
            threads.add(thread);
        }
        start.countDown();
        for (Thread thread : threads) {
            thread.join();
        }
        assertThat(winners).hasSize(1);
        Fence held = winners.peek();
        assertThat(leases.acquire("ca-bootstrap", held.holder(), T.plusSeconds(10), T.plusSeconds(40)))
                .as("renewal keeps the token").contains(held);
        assertThat(leases.acquire("ca-bootstrap", "other", T.plusSeconds(35), T.plusSeconds(60))).isEmpty();
        leases.release(held);
        Fence next = leases.acquire("ca-bootstrap", "other", T.plusSeconds(36), T.plusSeconds(60)).orElseThrow();
        assertThat(next.token()).isEqualTo(held.token() + 1);
    }

    @Test
    void contractSetsKeepEveryVersionAndTheLatestPerSource() {
        var repo = new JdbcContractRepository(db.dataSource());
        assertThat(repo.latestVersion()).isZero();
        long a1 = repo.saveVersion("a", new byte[] {1, 2}, T);
        long b1 = repo.saveVersion("b", new byte[] {3}, T.plusSeconds(1));
        long a2 = repo.saveVersion("a", new byte[] {4, 5, 6}, T.plusSeconds(2));
        assertThat(a1).isLessThan(b1);
        assertThat(b1).isLessThan(a2);
        assertThat(repo.latestVersion()).isEqualTo(a2);
        assertThat(repo.latestPerSource()).extracting(c -> c.source() + " " + c.version())
                .containsExactly("b " + b1, "a " + a2);
        assertThat(repo.latestPerSource().get(1).descriptorSet()).containsExactly(4, 5, 6);
        assertThat(repo.latestPerSource().get(1).publishedAt()).isEqualTo(T.plusSeconds(2));
    }

    @Test
    void policiesAreKeptByVersionAndAVersionIsStoredOnce() {
        var repo = new JdbcPolicyRepository(db.dataSource());
        assertThat(repo.latest()).isEmpty();
        assertThat(repo.latestVersion()).isZero();
        Policy v1 = Policy.newBuilder().setVersion(1).build();
        Policy v2 = Policy.newBuilder().setVersion(2).build();
        assertThat(repo.save(v2, "spiffe://example.org/admin", T)).isTrue();
        assertThat(repo.save(v1, "spiffe://example.org/admin", T)).isTrue();
        assertThat(repo.save(Policy.newBuilder().setVersion(2).build(), "spiffe://example.org/other", T))
                .as("another replica applied version 2 first").isFalse();
        assertThat(repo.latestVersion()).isEqualTo(2);
        assertThat(repo.latest()).contains(v2);
    }

    private static StoredSigningKey signingKey(String kid, KeyStatus status, Instant at) {
        return new StoredSigningKey(kid, SigningAlgorithm.ES256, status, "{\"kid\":\"" + kid + "\"}", "sealed-" + kid,
                at, status == KeyStatus.ACTIVE ? Optional.of(at) : Optional.empty(), Optional.empty());
    }

    @Test
    void auditIsAppendOnlyNewestFirst() {
        var audit = new JdbcAuditLog(db.dataSource());
        audit.record(new AuditEvent(T, "spiffe://example.org/admin", "registration.create", A.toString(),
                AuditEvent.Outcome.SUCCESS, ""));
        audit.record(new AuditEvent(T.plusSeconds(1), "anonymous", "certificate.bootstrap", "unknown",
                AuditEvent.Outcome.REFUSED, "UNAUTHENTICATED: join token has expired"));
        assertThat(audit.recent(10)).extracting(AuditEvent::action)
                .containsExactly("certificate.bootstrap", "registration.create");
        assertThat(audit.recent(1).get(0).time()).isEqualTo(T.plusSeconds(1));
    }

    @Test
    void auditCountsMatchTheFiltersWithTheTimeWindowReadByIdRange() {
        var audit = new JdbcAuditLog(db.dataSource());
        for (int minute = 0; minute < 120; minute++) {
            audit.record(new AuditEvent(T.plusSeconds(60L * minute), "w", minute % 3 == 0 ? "token.issue" : "certificate.renew",
                    "t", minute % 2 == 0 ? AuditEvent.Outcome.SUCCESS : AuditEvent.Outcome.REFUSED, ""));
        }
        AuditQuery lastHourRenewals = new AuditQuery(0, true, 0, Optional.empty(), Optional.of("certificate."),
                Optional.empty(), Optional.of(AuditEvent.Outcome.SUCCESS), Optional.of(T.plusSeconds(60L * 60)),
                Optional.empty());
        // minutes 60..119 that are even and not multiples of 3: 30 even, of which 10 are multiples of 6
        assertThat(audit.count(lastHourRenewals)).isEqualTo(20);
        assertThat(audit.count(new AuditQuery(0, true, 0, Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.of(T.plusSeconds(60L * 119)), Optional.empty()))).isEqualTo(1);
        assertThat(audit.count(new AuditQuery(0, true, 0, Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.of(T.plusSeconds(60L * 120)), Optional.empty()))).isZero();
        assertThat(audit.count(new AuditQuery(0, true, 0, Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.of(T.minusSeconds(3600)), Optional.of(T.plusSeconds(60L * 10))))).isEqualTo(10);
        assertThat(audit.list(new AuditQuery(0, false, 5, Optional.empty(), Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.of(T.plusSeconds(60L * 100)), Optional.empty())))
                .extracting(r -> r.event().time()).first().isEqualTo(T.plusSeconds(60L * 100));
    }

    @Test
    void concurrentAuditAppendsFormOneChainWithoutGaps() throws Exception {
        var audit = new JdbcAuditLog(db.dataSource());
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            int writer = w;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 25; i++) {
                    audit.record(new AuditEvent(T.plusNanos(123), "w" + writer, "test.append", "t" + i,
                            AuditEvent.Outcome.SUCCESS, ""));
                }
            });
            thread.start();
            writers.add(thread);
        }
        for (Thread writer : writers) {
            writer.join();
        }
        var records = audit.list(AuditQuery.all(0, 1000));
        assertThat(records).hasSize(100);
        var verifier = new AuditChain.Verifier();
        assertThat(records).allSatisfy(r -> assertThat(verifier.accept(r)).isEmpty());
        assertThat(audit.list(new AuditQuery(0, true, 3, Optional.of("w1"), Optional.of("test."),
                Optional.empty(), Optional.of(AuditEvent.Outcome.SUCCESS), Optional.of(T), Optional.of(T.plusSeconds(1)))))
                .hasSize(3).allSatisfy(r -> assertThat(r.event().actor()).isEqualTo("w1"))
                .extracting(dev.lanyard.audit.AuditRecord::id).isSortedAccordingTo(java.util.Comparator.reverseOrder());
    }

    @Test
    void recordsWrittenBeforeTheChainAreChainedInTheirOrder() throws Exception {
        // Times bound, not literals: SQLite keeps them as integers (each store binds them its own way).
        try (var c = db.dataSource().getConnection(); var s = c.prepareStatement("insert into audit_events"
                + " (id, occurred_at, actor, action, target, outcome, reason) values"
                + " (5, ?, 'a', 'old.one', 't', 'SUCCESS', ''), (9, ?, 'a', 'old.two', 't', 'REFUSED', 'no')")) {
            Jdbc.setInstant(s, 1, Instant.parse("2026-11-01T10:00:00Z"));
            Jdbc.setInstant(s, 2, Instant.parse("2026-11-01T10:00:01Z"));
            s.executeUpdate();
        }
        var audit = new JdbcAuditLog(db.dataSource());
        audit.record(new AuditEvent(T, "b", "new.one", "t", AuditEvent.Outcome.SUCCESS, ""));

        var records = audit.list(AuditQuery.all(0, 10));
        assertThat(records).extracting(r -> r.id() + " " + r.event().action())
                .containsExactly("1 old.one", "2 old.two", "3 new.one");
        var verifier = new AuditChain.Verifier();
        assertThat(records).allSatisfy(r -> assertThat(verifier.accept(r)).isEmpty());
    }

    @Test
    void revocationsAreIdempotentAndTheirSequencesGapless() {
        var repo = new JdbcRevocationRepository(db.dataSource());
        RevocationTarget serial = RevocationTarget.serial("0ABC");
        var first = repo.revoke(List.of(newRevocation(serial, Optional.of(T.plus(Duration.ofHours(1)))),
                newRevocation(RevocationTarget.spiffeId(A.toString()), Optional.empty())));
        var again = repo.revoke(List.of(newRevocation(serial, Optional.of(T.plus(Duration.ofHours(1))))));

        assertThat(first).extracting(o -> o.revocation().sequence()).containsExactly(1L, 2L);
        assertThat(first).allMatch(RevocationRepository.Outcome::created);
        assertThat(again.get(0).created()).isFalse();
        assertThat(again.get(0).revocation()).isEqualTo(first.get(0).revocation());
        assertThat(repo.reinstate(B.toString(), T, "admin", "")).isEmpty();
        assertThat(repo.reinstate(A.toString(), T, "admin", "back").orElseThrow().sequence()).isEqualTo(3);
        assertThat(repo.eventsAfter(1, 10)).extracting(RevocationEvent::sequence).containsExactly(2L, 3L);
        assertThat(repo.eventsAfter(0, 10).get(0)).isEqualTo(new RevocationEvent.Revoked(first.get(0).revocation()));

        assertThat(repo.pruneExpired(T.plus(Duration.ofHours(2)))).isEqualTo(1);
        assertThat(repo.eventsAfter(0, 10)).extracting(RevocationEvent::sequence).containsExactly(2L, 3L);
        assertThat(repo.revoke(List.of(newRevocation(serial, Optional.of(T.plus(Duration.ofHours(3))))))
                .get(0).revocation().sequence()).isEqualTo(4);
    }

    @Test
    void aRestoredHeadOnlyMovesForwardAndTheNextEventIsNumberedAboveIt() throws Exception {
        var repo = new JdbcRevocationRepository(db.dataSource());
        repo.revoke(List.of(newRevocation(RevocationTarget.jti("j1"), Optional.of(T.plus(Duration.ofHours(1)))),
                newRevocation(RevocationTarget.jti("j2"), Optional.of(T.plus(Duration.ofHours(1))))));
        assertThat(repo.lastSequence()).isEqualTo(2);
        raiseHead(1_000_000);
        assertThat(repo.lastSequence()).as("no event holds it").isEqualTo(1_000_000);
        assertThat(repo.eventsAfter(0, 10)).extracting(RevocationEvent::sequence).containsExactly(1L, 2L);
        raiseHead(5);
        assertThat(repo.lastSequence()).as("never back").isEqualTo(1_000_000);

        var next = repo.revoke(List.of(newRevocation(RevocationTarget.jti("j3"), Optional.of(T.plus(Duration.ofHours(1))))));
        assertThat(next.get(0).revocation().sequence()).isEqualTo(1_000_001);
        // a watcher that saw up to 7 on the lost server gets it
        assertThat(repo.eventsAfter(7, 10)).extracting(RevocationEvent::sequence).containsExactly(1_000_001L);
        assertThat(repo.lastSequence()).isEqualTo(1_000_001);
    }

    private void raiseHead(long floor) throws java.sql.SQLException {
        try (var c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            JdbcRevocationRepository.raiseHead(c, floor);
            c.commit();
            c.setAutoCommit(true);
        }
    }

    @Test
    void aWatchResumesFromAnySequenceTheStoreHandedOutAndIsRefusedPastIt() throws Exception {
        var repo = new JdbcRevocationRepository(db.dataSource());
        var clock = java.time.Clock.fixed(T, java.time.ZoneOffset.UTC);
        var here = new dev.lanyard.revocation.RevocationRegistry(repo, clock);
        here.catchUp();
        // Another replica writes: this one has not loaded it yet, and still knows the sequence handed out.
        repo.revoke(List.of(newRevocation(RevocationTarget.jti("j1"), Optional.of(T.plus(Duration.ofHours(1)))),
                newRevocation(RevocationTarget.jti("j2"), Optional.of(T.plus(Duration.ofHours(1))))));
        assertThat(here.latestSequence()).isZero();
        here.requireHandedOut(2);
        assertThatThrownBy(() -> here.requireHandedOut(3)).isInstanceOfSatisfying(dev.lanyard.refusal.Refusal.class,
                e -> {
                    assertThat(e.code()).isEqualTo(dev.lanyard.refusal.Refusal.Code.OUT_OF_RANGE);
                    assertThat(e.getMessage()).contains("after_sequence 3 ", " 2 ", "watch again from 0");
                });
        here.catchUp();
        assertThat(here.eventsAfter(1)).extracting(RevocationEvent::sequence).containsExactly(2L);

        // Pruned events and a restore's floor are sequences the store handed out too.
        var later = java.time.Clock.fixed(T.plus(Duration.ofHours(2)), java.time.ZoneOffset.UTC);
        new dev.lanyard.revocation.RevocationRegistry(repo, later).pruneExpired();
        var restarted = new dev.lanyard.revocation.RevocationRegistry(repo, later);
        restarted.catchUp();
        assertThat(restarted.latestSequence()).isZero();
        assertThat(restarted.documentSequence()).as("a published document never goes back").isEqualTo(2);
        restarted.requireHandedOut(2);
        raiseHead(50);
        restarted.requireHandedOut(50);
        assertThatThrownBy(() -> restarted.requireHandedOut(51)).isInstanceOf(dev.lanyard.refusal.Refusal.class);
        var restored = new dev.lanyard.revocation.RevocationRegistry(repo, later);
        restored.catchUp();
        assertThat(restored.documentSequence()).as("a restore's floor").isEqualTo(50);
    }

    @Test
    void concurrentRevocationsNeverShareOrSkipASequence() throws Exception {
        var repo = new JdbcRevocationRepository(db.dataSource());
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            int writer = w;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 25; i++) {
                    repo.revoke(List.of(newRevocation(RevocationTarget.jti("w" + writer + "-" + i),
                            Optional.of(T.plus(Duration.ofHours(1))))));
                }
            });
            thread.start();
            writers.add(thread);
        }
        for (Thread writer : writers) {
            writer.join();
        }
        assertThat(repo.eventsAfter(0, 1000)).extracting(RevocationEvent::sequence)
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, 100).boxed().toList());
    }

    @Test
    void federatedRevocationsAreImportedOnceNeverOverOurOwnAndLiftedWhenNoLongerListed() {
        var issued = new JdbcIssuedCertificateRepository(db.dataSource(), new JdbcAuditLog(db.dataSource()));
        issued.record(new IssuedCertificateRecord("ab1", A, T, T.plusSeconds(3600), "f1", T, "k1"), issuance("ab1"));
        var repo = new JdbcRevocationRepository(db.dataSource());
        Optional<Instant> hour = Optional.of(T.plus(Duration.ofHours(1)));
        List<RevocationRepository.NewRevocation> listed = List.of(
                federated(RevocationTarget.serial("ff01"), hour),
                federated(RevocationTarget.serial("ab1"), hour), // ours: only this server revokes it
                federated(RevocationTarget.spiffeId("spiffe://b.test/x"), Optional.empty()));

        assertThat(repo.importFederated("b.test", 1, listed, 100, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(2, 0));
        assertThat(repo.importFederated("b.test", 1, listed, 100, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(0, 0));
        assertThat(repo.eventsAfter(0, 10)).extracting(e -> ((RevocationEvent.Revoked) e).revocation())
                .allSatisfy(r -> assertThat(r.trustDomain()).isEqualTo("b.test"))
                .extracting(r -> r.target().value()).containsExactly("ff01", "spiffe://b.test/x");
        // Our own revocation of our serial is ours, untouched by b.test's list.
        assertThat(repo.revoke(List.of(newRevocation(RevocationTarget.serial("ab1"), hour))).get(0).created()).isTrue();

        // b.test lifts the identity: so do we; its serial stays (it is lifted only by expiring).
        assertThat(repo.importFederated("b.test", 1, listed.subList(0, 1), 100, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(0, 1));
        assertThat(repo.eventsAfter(3, 10)).singleElement().isInstanceOfSatisfying(RevocationEvent.Reinstated.class,
                r -> assertThat(r.spiffeId()).isEqualTo("spiffe://b.test/x"));
        assertThatThrownBy(() -> repo.importFederated("c.test", 1, listed, 100, T, "federation c.test"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aFederatedTrustDomainHoldsAtMostMaxHeldCertificateAndTokenRevocationsAndAnImportOverItStoresNothing() {
        var repo = new JdbcRevocationRepository(db.dataSource());
        Optional<Instant> hour = Optional.of(T.plus(Duration.ofHours(1)));
        List<RevocationRepository.NewRevocation> first = List.of(federated(RevocationTarget.jti("j1"), hour),
                federated(RevocationTarget.serial("f1"), hour),
                federated(RevocationTarget.spiffeId("spiffe://b.test/x"), Optional.empty())); // not counted
        assertThat(repo.importFederated("b.test", 1, first, 2, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(3, 0));

        // Ever new token ids: with the two held, three is over the bound; nothing of it is stored.
        List<RevocationRepository.NewRevocation> fresh = List.of(federated(RevocationTarget.jti("j2"), hour),
                federated(RevocationTarget.spiffeId("spiffe://b.test/y"), Optional.empty()));
        assertThatThrownBy(() -> repo.importFederated("b.test", 1, fresh, 2, T, "federation b.test"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("taking them in would hold 3 certificate and token revocations of b.test, over the 2 allowed");
        assertThat(repo.eventsAfter(3, 10)).isEmpty();
        // Relisting what is held is fine; once those expired, new ones are taken in.
        assertThat(repo.importFederated("b.test", 1, first, 2, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(0, 0));
        assertThat(repo.importFederated("b.test", 1, fresh, 2, T.plus(Duration.ofHours(1)), "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(2, 1));
    }

    @Test
    void twoFederatedTrustDomainsRevokingOneSerialHoldTwoRevocationsEachRefusingOnlyItsOwnPeers() {
        var repo = new JdbcRevocationRepository(db.dataSource());
        RevocationTarget serial = RevocationTarget.serial("c0ffee01");
        RevocationTarget jti = RevocationTarget.jti("shared-jti");
        // b.test lists c.test's serial (and a token id) first, to expire soon; then c.test revokes them.
        assertThat(repo.importFederated("b.test", 1, List.of(federated("b.test", serial, Optional.of(T.plusSeconds(60))),
                federated("b.test", jti, Optional.of(T.plusSeconds(60)))), 10, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(2, 0));
        Optional<Instant> day = Optional.of(T.plus(Duration.ofDays(1)));
        List<RevocationRepository.NewRevocation> cListed = List.of(federated("c.test", serial, day),
                federated("c.test", jti, day));
        assertThat(repo.importFederated("c.test", 1, cListed, 10, T, "federation c.test"))
                .as("b.test's revocations neither block nor stand for c.test's")
                .isEqualTo(new RevocationRepository.Imported(2, 0));
        assertThat(repo.importFederated("c.test", 1, cListed, 10, T, "federation c.test"))
                .isEqualTo(new RevocationRepository.Imported(0, 0));
        // This server's own revocation of the same token id is a third, and its own.
        assertThat(repo.revoke(List.of(newRevocation(jti, day))).get(0).created()).isTrue();

        var registry = new dev.lanyard.revocation.RevocationRegistry(repo, java.time.Clock.fixed(T, java.time.ZoneOffset.UTC));
        registry.catchUp();
        assertThat(registry.inForce()).extracting(r -> r.trustDomain() + " " + r.target())
                .containsExactly("b.test serial c0ffee01", "b.test jti shared-jti", "c.test serial c0ffee01",
                        "c.test jti shared-jti", " jti shared-jti");
        // A c.test peer presenting that certificate is refused for c.test's revocation; a d.test one is not.
        assertThat(registry.refusalFor(SpiffeId.parse("spiffe://c.test/w"), Optional.of("c0ffee01")))
                .hasValueSatisfying(r -> assertThat(r.trustDomain()).isEqualTo("c.test"));
        assertThat(registry.refusalFor(SpiffeId.parse("spiffe://b.test/w"), Optional.of("c0ffee01")))
                .hasValueSatisfying(r -> assertThat(r.trustDomain()).isEqualTo("b.test"));
        assertThat(registry.refusalFor(SpiffeId.parse("spiffe://d.test/w"), Optional.of("c0ffee01"))).isEmpty();
        assertThat(registry.find(serial)).as("not this server's revocation").isEmpty();

        // b.test's expire and are pruned; c.test's stay, here and in the database.
        var later = new dev.lanyard.revocation.RevocationRegistry(repo,
                java.time.Clock.fixed(T.plus(Duration.ofHours(1)), java.time.ZoneOffset.UTC));
        later.catchUp();
        later.pruneExpired();
        assertThat(repo.importFederated("c.test", 1, cListed, 10, T.plus(Duration.ofHours(1)), "federation c.test"))
                .isEqualTo(new RevocationRepository.Imported(0, 0));
        assertThat(later.refusalFor(SpiffeId.parse("spiffe://c.test/w"), Optional.of("c0ffee01")))
                .hasValueSatisfying(r -> assertThat(r.trustDomain()).isEqualTo("c.test"));
        assertThat(later.inForce()).extracting(r -> r.trustDomain() + " " + r.target())
                .containsExactly("c.test serial c0ffee01", "c.test jti shared-jti", " jti shared-jti");
    }

    @Test
    void aFederatedDocumentOlderThanOneAnyReplicaAppliedIsRefusedWholeAndAReplacedRelationshipStartsAfresh() {
        var federations = new JdbcFederationRepository(db.dataSource());
        var relationship = new FederationRelationship("b.test", URI.create("https://b.test/bundle"),
                FederationRelationship.Profile.HTTPS_WEB, Optional.empty(), Instant.parse("2026-11-01T10:00:00Z"));
        federations.put(relationship, Optional.empty(), 0, T);
        var x = federated(RevocationTarget.spiffeId("spiffe://b.test/x"), Optional.empty());
        var y = federated(RevocationTarget.spiffeId("spiffe://b.test/y"), Optional.empty());
        var first = new JdbcRevocationRepository(db.dataSource());
        assertThat(first.importFederated("b.test", 7, List.of(x, y), 10, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(2, 0));

        // Another replica, or this server restarted: a stale copy of sequence 6 (before y was revoked) is
        // refused as a whole; y stays revoked, and nothing of it is written.
        var second = new JdbcRevocationRepository(db.dataSource());
        assertThatThrownBy(() -> second.importFederated("b.test", 6, List.of(x), 10, T, "federation b.test"))
                .isInstanceOfSatisfying(RevocationRepository.OlderThanApplied.class, e -> {
                    assertThat(e.offered()).isEqualTo(6);
                    assertThat(e.applied()).isEqualTo(7);
                }).hasMessage("sequence 6 is older than the 7 applied");
        assertThat(second.eventsAfter(2, 10)).isEmpty();
        assertThat(second.importFederated("b.test", 7, List.of(x, y), 10, T, "federation b.test"))
                .as("the same document again").isEqualTo(new RevocationRepository.Imported(0, 0));

        // A document that changed nothing here is noted all the same; a lower note moves nothing.
        second.noteFederatedSequence("b.test", 9);
        first.noteFederatedSequence("b.test", 8);
        assertThatThrownBy(() -> first.importFederated("b.test", 8, List.of(x), 10, T, "federation b.test"))
                .isInstanceOf(RevocationRepository.OlderThanApplied.class).hasMessage("sequence 8 is older than the 9 applied");
        assertThat(first.importFederated("b.test", 10, List.of(x), 10, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(0, 1));

        // A relationship replaced (the peer's server rebuilt, its sequence restarting) starts afresh.
        federations.put(new FederationRelationship("b.test", relationship.endpoint(), relationship.profile(),
                Optional.empty(), relationship.createdAt().plusSeconds(1)), Optional.empty(), 0, T);
        assertThat(first.importFederated("b.test", 1, List.of(x, y), 10, T, "federation b.test"))
                .isEqualTo(new RevocationRepository.Imported(1, 0));
    }

    private static RevocationRepository.NewRevocation federated(RevocationTarget target, Optional<Instant> expiresAt) {
        return federated("b.test", target, expiresAt);
    }

    private static RevocationRepository.NewRevocation federated(String trustDomain, RevocationTarget target,
            Optional<Instant> expiresAt) {
        return new RevocationRepository.NewRevocation(target, RevocationReason.KEY_COMPROMISE, "", T,
                "federation " + trustDomain, "", "", expiresAt, trustDomain);
    }

    @Test
    void aFetchedBundleIsStoredOnlyForTheRelationshipItWasFetchedForAndNeverOverANewerOne() {
        var federations = new JdbcFederationRepository(db.dataSource());
        Instant created = Instant.parse("2026-11-01T10:00:00.123456Z"); // microseconds, as Federation keeps them
        var first = new FederationRelationship("b.test", URI.create("https://b.test/bundle"),
                FederationRelationship.Profile.HTTPS_SPIFFE, Optional.of(SpiffeId.parse("spiffe://b.test/server")),
                created);
        federations.put(first, Optional.of("{\"initial\":1}"), 1, T);
        assertThat(federations.all()).singleElement().satisfies(s -> assertThat(s.relationship()).isEqualTo(first));
        assertThat(federations.updateBundle(first, "{\"fetched\":3}", 3, T)).isTrue();
        assertThat(federations.updateBundle(first, "{\"fetched\":2}", 2, T)).as("older than the stored").isFalse();
        assertThat(federations.all()).singleElement().satisfies(s -> {
            assertThat(s.bundleJson()).contains("{\"fetched\":3}");
            assertThat(s.bundleSequence()).isEqualTo(3);
        });

        // Replaced (a new initial bundle for the same endpoint): a fetch for the old one stores nothing.
        var replaced = new FederationRelationship("b.test", first.endpoint(), first.profile(), first.endpointId(),
                created.plusSeconds(1));
        federations.put(replaced, Optional.of("{\"initial\":2}"), 1, T);
        assertThat(federations.updateBundle(first, "{\"fetched\":4}", 4, T)).isFalse();
        assertThat(federations.all()).singleElement().satisfies(s -> assertThat(s.bundleJson())
                .contains("{\"initial\":2}"));
        var web = new FederationRelationship("b.test", URI.create("https://web.b.test/bundle"),
                FederationRelationship.Profile.HTTPS_WEB, Optional.empty(), created.plusSeconds(2));
        federations.put(web, Optional.empty(), 0, T);
        assertThat(federations.updateBundle(replaced, "{\"fetched\":5}", 5, T)).isFalse();
        assertThat(federations.updateBundle(web, "{\"fetched\":5}", 5, T)).isTrue();
        assertThat(federations.all()).singleElement().satisfies(s -> assertThat(s.bundleJson())
                .contains("{\"fetched\":5}"));
    }

    @Test
    void crlNumbersIncreasePerIssuer() {
        var repo = new JdbcRevocationRepository(db.dataSource());
        assertThat(repo.nextCrlNumber("ca1", 0)).isEqualTo(1);
        assertThat(repo.nextCrlNumber("ca1", 0)).isEqualTo(2);
        assertThat(repo.nextCrlNumber("ca2", 0)).isEqualTo(1);
    }

    @Test
    void aCrlNumberIsNeverBelowTheFloorNorEverRepeated() {
        var repo = new JdbcRevocationRepository(db.dataSource());
        assertThat(repo.nextCrlNumber("ca1", 0)).isEqualTo(1);
        // a restored store continues from the backup's last number: the clock's floor lifts it
        assertThat(repo.nextCrlNumber("ca1", 1_700_000_000L)).isEqualTo(1_700_000_000L);
        // two CRLs within one second: the second still gets a new number
        assertThat(repo.nextCrlNumber("ca1", 1_700_000_000L)).isEqualTo(1_700_000_001L);
        assertThat(repo.nextCrlNumber("ca1", 5)).isEqualTo(1_700_000_002L);
    }

    private static RevocationRepository.NewRevocation newRevocation(RevocationTarget target, Optional<Instant> expiresAt) {
        return new RevocationRepository.NewRevocation(target, RevocationReason.KEY_COMPROMISE, "note", T,
                "spiffe://example.org/admin", target.kind() == RevocationTarget.Kind.JTI ? "" : A.toString(),
                target.kind() == RevocationTarget.Kind.SERIAL ? "ca1" : "", expiresAt);
    }
}
