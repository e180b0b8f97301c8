package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * On H2 an acknowledged write is on stable storage: the file is forced (fsync) after the commit's
 * write and before the call returns, for writes with an audit record and writes without one.
 */
class H2DurabilityTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00Z");

    @TempDir
    Path dir;
    Database db;

    @BeforeAll
    static void probe() {
        SyncProbeFileSystem.register();
    }

    @BeforeEach
    void open() {
        db = Database.h2("syncprobe:" + dir.toAbsolutePath().resolve("lanyard"));
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void anIssuanceWithItsAuditRecordIsForcedBeforeItReturns() {
        var audit = new JdbcAuditLog(db.dataSource());
        var certificates = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
        int before = SyncProbeFileSystem.log().size();

        certificates.record(new IssuedCertificateRecord("01", SpiffeId.parse("spiffe://example.org/a"), T,
                T.plusSeconds(3600), "f", T, "k"), event("svid.issue"));

        assertWrittenThenForced(SyncProbeFileSystem.log().subList(before, SyncProbeFileSystem.log().size()));
    }

    @Test
    void aWriteWithoutAnAuditRecordIsForcedBeforeItReturns() {
        var registrations = new JdbcRegistrationRepository(db.dataSource());
        int before = SyncProbeFileSystem.log().size();

        registrations.create(new Registration(SpiffeId.parse("spiffe://example.org/b"), List.of(),
                Duration.ofHours(1), T));

        assertWrittenThenForced(SyncProbeFileSystem.log().subList(before, SyncProbeFileSystem.log().size()));
    }

    @Test
    void concurrentAppendsShareSyncsAndEveryOneIsCounted() throws Exception {
        var audit = new JdbcAuditLog(db.dataSource());
        long commitsBefore = db.syncCounts().orElseThrow().commits();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread thread = new Thread(() -> {
                try {
                    for (int i = 0; i < 25; i++) {
                        audit.record(event("test.append"));
                    }
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }

        assertThat(failures).isEmpty();
        Database.SyncCounts counts = db.syncCounts().orElseThrow();
        assertThat(counts.commits() - commitsBefore).as("group commit: at most one commit per append")
                .isBetween(1L, 200L);
        assertThat(counts.syncs()).as("never more syncs than commits").isLessThanOrEqualTo(counts.commits());
        List<SyncProbeFileSystem.Op> log = SyncProbeFileSystem.log();
        assertThat(log.get(log.size() - 1)).as("the last write was forced").isEqualTo(SyncProbeFileSystem.Op.FORCE);
    }

    private static void assertWrittenThenForced(List<SyncProbeFileSystem.Op> ops) {
        assertThat(ops).as("the commit wrote the file").contains(SyncProbeFileSystem.Op.WRITE);
        assertThat(ops.lastIndexOf(SyncProbeFileSystem.Op.FORCE))
                .as("a force after the commit's last write, before the call returned: %s", ops)
                .isGreaterThan(ops.lastIndexOf(SyncProbeFileSystem.Op.WRITE));
    }

    private static AuditEvent event(String action) {
        return new AuditEvent(T, "spiffe://example.org/admin", action, "t", AuditEvent.Outcome.SUCCESS, "");
    }
}
