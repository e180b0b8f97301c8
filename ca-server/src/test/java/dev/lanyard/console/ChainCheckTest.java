package dev.lanyard.console;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.store.AuditArchive;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The console's verdict on a live chain whose start was archived, or deleted some other way. */
class ChainCheckTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00Z");

    @TempDir
    Path dir;
    Database db;
    JdbcAuditLog audit;

    @BeforeEach
    void open() {
        db = Database.h2File(dir.resolve("data"));
        audit = new JdbcAuditLog(db.dataSource());
        for (int i = 1; i <= 10; i++) {
            audit.record(new AuditEvent(T.plusSeconds(i), "spiffe://example.org/a", "svid.issue", "serial " + i,
                    AuditEvent.Outcome.SUCCESS, ""));
        }
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void aChainWhoseStartWasArchivedIsIntact() throws Exception {
        new AuditArchive(audit, Clock.fixed(T, ZoneOffset.UTC)).archive(7, dir.resolve("audit-1.txt"), "operator");

        assertThat(new ChainCheck(audit).verify()).contains("The chain is intact: 5 records, #7 to #11",
                "(older records are archived)");
    }

    @Test
    void aChainWhoseStartWasDeletedWithoutAnArchiveIsBroken() throws Exception {
        // Deleting the oldest records leaves a chain that links from its first live record on: only the
        // missing audit.archive record tells it apart from an archived one.
        delete("delete from audit_events where id <= 3");

        assertThat(new ChainCheck(audit).verify()).contains("The chain is broken: the live chain starts at record 4"
                + " but no audit.archive record names record 3 as the end of an archive", "first broken record is #4");
    }

    @Test
    void recordsDeletedAfterAnArchiveAreNamed() throws Exception {
        new AuditArchive(audit, Clock.fixed(T, ZoneOffset.UTC)).archive(4, dir.resolve("audit-1.txt"), "operator");
        delete("delete from audit_events where id = 4");

        assertThat(new ChainCheck(audit).verify()).contains("The chain is broken: the live chain starts at record 5"
                + " but no audit.archive record names record 4");
    }

    private void delete(String sql) throws Exception {
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.executeUpdate(sql);
        }
    }
}
