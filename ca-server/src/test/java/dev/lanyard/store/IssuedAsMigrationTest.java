package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Instant;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * V94 (issued_as): certificates on file before it are a workload's, refused for admin calls, unless
 * their issuance record says the server issued them itself (a dev admin credential already written).
 */
class IssuedAsMigrationTest {

    private static final String ADMIN = "spiffe://lanyard.local/lanyard/admin";
    private static final String ALICE = "spiffe://lanyard.local/ops/alice";

    @TempDir
    Path dir;

    @Test
    void rowsFromBeforeAreAWorkloadsUnlessTheServerIssuedThemItself() throws Exception {
        JdbcDataSource h2 = new JdbcDataSource();
        h2.setURL("jdbc:h2:file:" + dir.toAbsolutePath().resolve("lanyard") + Database.H2_SETTINGS);
        h2.setUser("lanyard");
        h2.setPassword("");
        Flyway.configure().dataSource(h2).locations("classpath:db/migration").target("93").load().migrate();
        try (Connection c = h2.getConnection()) {
            insert(c, "a1", ADMIN, "certificate.local");
            insert(c, "b2", ALICE, "certificate.issue");
        }
        Flyway.configure().dataSource(h2).locations("classpath:db/migration").load().migrate();

        var repo = new JdbcIssuedCertificateRepository(h2, new JdbcAuditLog(h2));
        assertThat(repo.issuedToWorkload("a1")).as("the dev admin credential").isFalse();
        assertThat(repo.issuedToWorkload("b2")).as("a workload's").isTrue();
    }

    private static void insert(Connection c, String serial, String id, String action) throws Exception {
        Timestamp now = Timestamp.from(Instant.now());
        try (PreparedStatement s = c.prepareStatement("insert into issued_certificates (serial_hex, spiffe_id,"
                + " not_before, not_after, sha256_fingerprint, issued_at, issuer_key_id) values (?, ?, ?, ?, 'f', ?, 'k')")) {
            s.setString(1, serial);
            s.setString(2, id);
            s.setTimestamp(3, now);
            s.setTimestamp(4, Timestamp.from(Instant.now().plusSeconds(3600)));
            s.setTimestamp(5, now);
            s.executeUpdate();
        }
        try (PreparedStatement s = c.prepareStatement("insert into audit_events (occurred_at, actor, action, target,"
                + " outcome, reason) values (?, 'lanyard', ?, ?, 'SUCCESS', '')")) {
            s.setTimestamp(1, now);
            s.setString(2, action);
            s.setString(3, id + " serial " + serial);
            s.executeUpdate();
        }
    }
}
