package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcIssuedCertificateRepository;
import dev.lanyard.testing.RefusedRecords;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Records are kept for the retention window past expiry, then deleted, with an audit record; moved by the clock. */
class ExpiredCertificatePrunerTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00Z");
    private static final SpiffeId ID = SpiffeId.parse("spiffe://example.org/a");
    private static final String SERVER = "spiffe://example.org/lanyard/server";

    @TempDir
    Path dir;
    Database db;
    JdbcAuditLog audit;
    JdbcIssuedCertificateRepository certificates;

    @BeforeEach
    void open() {
        db = Database.h2File(dir);
        audit = new JdbcAuditLog(db.dataSource());
        certificates = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void recordsGoOnlyOnceTheyExpiredLongerAgoThanTheRetention() {
        issue("early", T.plus(Duration.ofHours(1)));
        issue("late", T.plus(Duration.ofHours(5)));

        assertThat(pruner(T.plus(Duration.ofDays(7))).pruneNow()).as("nothing expired 7 days ago yet").isZero();
        assertThat(certificates.findBySerial("early")).isPresent();

        Instant now = T.plus(Duration.ofDays(7)).plus(Duration.ofHours(2));
        assertThat(pruner(now).pruneNow()).isEqualTo(1);
        assertThat(certificates.findBySerial("early")).isEmpty();
        assertThat(certificates.findBySerial("late")).as("still inside its retention").isPresent();
        AuditEvent pruned = audit.recent(1).get(0);
        assertThat(pruned.action()).isEqualTo("certificates.prune");
        assertThat(pruned.actor()).isEqualTo(SERVER);
        assertThat(pruned.reason()).startsWith("1 certificate records deleted");

        assertThat(pruner(now).pruneNow()).as("a run with nothing to do leaves no audit record").isZero();
        assertThat(audit.recent(1).get(0)).isEqualTo(pruned);
    }

    @Test
    void aBacklogLargerThanOneBatchGoesInOneRun() {
        for (int i = 0; i < ExpiredCertificatePruner.BATCH + 5; i++) {
            issue("s" + i, T.plus(Duration.ofMinutes(i % 60)));
        }
        assertThat(pruner(T.plus(Duration.ofDays(30))).pruneNow()).isEqualTo(ExpiredCertificatePruner.BATCH + 5);
        assertThat(certificates.list(java.util.Optional.empty(), java.util.Optional.empty(), 10).certificates())
                .isEmpty();
        assertThat(audit.recent(2)).as("one record per batch, saying what it deleted")
                .extracting(e -> e.reason().substring(0, e.reason().indexOf(' ')))
                .containsExactly("5", Integer.toString(ExpiredCertificatePruner.BATCH));
    }

    @Test
    void aBatchWhoseRecordCannotBeStoredDeletesNothing() throws Exception {
        db.close(); // SQLite, where a trigger can refuse the record
        db = Database.sqliteFile(java.nio.file.Files.createDirectories(dir.resolve("sqlite")));
        audit = new JdbcAuditLog(db.dataSource());
        certificates = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
        issue("expired", T.plus(Duration.ofHours(1)));
        RefusedRecords.refuse(Database.sqlitePath(dir.resolve("sqlite")), "certificates.prune");
        assertThatThrownBy(() -> pruner(T.plus(Duration.ofDays(30))).pruneNow())
                .hasMessageContaining("refused by the test");
        assertThat(certificates.findBySerial("expired")).as("not deleted without its record").isPresent();
    }

    private ExpiredCertificatePruner pruner(Instant now) {
        return new ExpiredCertificatePruner(certificates, audit, Clock.fixed(now, ZoneOffset.UTC), Duration.ofDays(7),
                SERVER);
    }

    private void issue(String serial, Instant notAfter) {
        certificates.record(new IssuedCertificateRecord(serial, ID, T, notAfter, "f", T, "k"),
                new AuditEvent(T, ID.toString(), "svid.issue", ID.toString(), AuditEvent.Outcome.SUCCESS, serial));
    }
}
