package dev.lanyard.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationRepository;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcRevocationRepository;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.BackupHeader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A real snapshot of a real store (H2) restored into each kind of store: in one transaction, identity
 * columns continued, the revocation sequence moved past what the lost server can have handed out; and a
 * restore whose last step fails leaves nothing behind and says why it failed.
 */
class SnapshotWriterTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00Z");
    private static final Instant RESTORED_AT = Instant.parse("2026-11-02T08:30:00.123456Z");

    /** The kinds of store a backup restores into. */
    enum Target {
        H2(Database::h2File), SQLITE(dir -> {
            try {
                return Database.sqliteFile(java.nio.file.Files.createDirectories(dir));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }), POSTGRESQL(dir -> {
            TestPostgres postgres = TestPostgres.get();
            return Database.open(postgres.newDatabase(), postgres.user(), "");
        });

        private final Function<Path, Database> open;

        Target(Function<Path, Database> open) {
            this.open = open;
        }
    }

    @TempDir
    Path dir;
    byte[] snapshot;

    /** A store with three revocations (sequence 3) and two audit records (identity ids 1 and 2), read as a backup. */
    @BeforeEach
    void backUp() throws Exception {
        try (Database source = Database.h2File(dir.resolve("source"))) {
            var revocations = new JdbcRevocationRepository(source.dataSource());
            for (String jti : List.of("j1", "j2", "j3")) {
                revocations.revoke(List.of(new RevocationRepository.NewRevocation(RevocationTarget.jti(jti),
                        RevocationReason.KEY_COMPROMISE, "", T, "spiffe://example.org/admin", "", "",
                        Optional.of(T.plus(Duration.ofDays(365))))));
            }
            var tokens = new dev.lanyard.store.JdbcJoinTokenRepository(source.dataSource());
            for (String id : List.of("unused", "used")) {
                tokens.insert(new dev.lanyard.attest.StoredJoinToken(id, new byte[32],
                        dev.lanyard.spiffe.SpiffeId.parse("spiffe://example.org/lanyard/agent/join_token/" + id), T,
                        T.plus(Duration.ofDays(1)), id.equals("used") ? Optional.of(T) : Optional.empty()));
            }
            new dev.lanyard.store.JdbcBundleSequences(source.dataSource()).sequenceFor("the-lost-servers-keys",
                    T.toEpochMilli());
            var audit = new JdbcAuditLog(source.dataSource());
            audit.record(new AuditEvent(T, "spiffe://example.org/admin", "one", "t", AuditEvent.Outcome.SUCCESS, ""));
            audit.record(new AuditEvent(T, "spiffe://example.org/admin", "two", "t", AuditEvent.Outcome.SUCCESS, ""));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (Connection c = source.openDedicatedConnection()) {
                SnapshotReader.read(c, source.dialect(), BackupHeader.newBuilder().setTrustDomain("example.org").build(),
                        chunk -> chunk.writeDelimitedTo(out));
            }
            snapshot = out.toByteArray();
        }
    }

    @ParameterizedTest
    @EnumSource(Target.class)
    void theRevocationSequenceContinuesAboveTheRestoreTimeAndIdentitiesAfterTheLargestId(Target kind) throws Exception {
        try (Database target = kind.open.apply(dir.resolve("target"))) {
            try (Connection c = target.dataSource().getConnection()) {
                SnapshotWriter.restore(new ByteArrayInputStream(snapshot), c, Clock.fixed(RESTORED_AT, ZoneOffset.UTC), "operator");
            }
            var revocations = new JdbcRevocationRepository(target.dataSource());
            long floor = Duration.between(Instant.EPOCH, RESTORED_AT).toNanos() / 1_000;
            assertThat(revocations.lastSequence()).as("epoch microseconds of the restore").isEqualTo(floor)
                    .isEqualTo(1_793_608_200_123_456L);
            // The lost server's watchers resume from sequences above the backup's 3: what happens now reaches them.
            long next = revocations.revoke(List.of(new RevocationRepository.NewRevocation(RevocationTarget.jti("after"),
                    RevocationReason.KEY_COMPROMISE, "", T, "spiffe://example.org/admin", "", "",
                    Optional.of(T.plus(Duration.ofDays(365)))))).get(0).revocation().sequence();
            assertThat(next).isEqualTo(floor + 1);
            assertThat(revocations.eventsAfter(3 + 1_000, 10)).singleElement()
                    .satisfies(e -> assertThat(e.sequence()).isEqualTo(floor + 1));
            assertThat(revocations.eventsAfter(0, 10)).hasSize(4);

            // A token unused in the backup may have been used on the lost server since: it is used up here.
            var tokens = new dev.lanyard.store.JdbcJoinTokenRepository(target.dataSource());
            assertThat(tokens.find("unused").orElseThrow().usedAt()).contains(RESTORED_AT.truncatedTo(ChronoUnit.MICROS));
            assertThat(tokens.find("used").orElseThrow().usedAt()).contains(T);
            assertThat(tokens.markUsed("unused", RESTORED_AT.plusSeconds(1))).as("cannot be redeemed").isFalse();

            // The bundle is numbered anew by the first start, above what the lost server may have published since.
            var bundleSequences = new dev.lanyard.store.JdbcBundleSequences(target.dataSource());
            assertThat(bundleSequences.kept("the-lost-servers-keys")).isEmpty();
            assertThat(bundleSequences.sequenceFor("the-lost-servers-keys", RESTORED_AT.toEpochMilli()))
                    .isEqualTo(RESTORED_AT.toEpochMilli());

            // The restored chain ends with the restore's record, and continues after it.
            var audit = new JdbcAuditLog(target.dataSource());
            assertThat(audit.recent(1)).singleElement().satisfies(e -> {
                assertThat(e.action()).isEqualTo("store.restore");
                assertThat(e.actor()).isEqualTo("operator");
                assertThat(e.reason()).contains("1 unused join tokens", "continue above " + floor);
            });
            audit.record(new AuditEvent(T, "spiffe://example.org/admin", "three", "t", AuditEvent.Outcome.SUCCESS, ""));
            assertThat(ids(target, "select id from audit_events order by id")).containsExactly(1L, 2L, 3L, 4L);
            var verifier = new dev.lanyard.audit.AuditChain.Verifier();
            assertThat(audit.list(dev.lanyard.audit.AuditQuery.all(0, 10))).allSatisfy(r ->
                    assertThat(verifier.accept(r)).isEmpty());
        }
    }

    @Test
    void aRestoreNeverMovesTheRevocationSequenceBack() throws Exception {
        try (Database target = Target.H2.open.apply(dir.resolve("target"))) {
            try (Connection c = target.dataSource().getConnection()) {
                // a restoring machine whose clock reads 1970: the backup's own head stands
                SnapshotWriter.restore(new ByteArrayInputStream(snapshot), c, Clock.fixed(Instant.EPOCH, ZoneOffset.UTC), "operator");
            }
            assertThat(new JdbcRevocationRepository(target.dataSource()).lastSequence()).isEqualTo(3);
        }
    }

    /**
     * PostgreSQL runs the identity restart in the restore's transaction; made to fail there (another
     * session holds a lock ALTER TABLE waits for, past lock_timeout), the restore rolls back whole and
     * throws the lock timeout itself, not a failed rollback of a transaction that was already committed.
     */
    @Test
    void anIdentityRestartThatFailsRollsTheRestoreBackAndItsOwnErrorSurfaces() throws Exception {
        try (Database target = Target.POSTGRESQL.open.apply(dir)) {
            try (Connection blocker = target.openDedicatedConnection(); Connection c = target.openDedicatedConnection()) {
                blocker.setAutoCommit(false);
                try (Statement s = blocker.createStatement()) {
                    s.executeQuery("select 1 from audit_events").close(); // holds ACCESS SHARE to its end
                }
                try (Statement s = c.createStatement()) {
                    s.execute("set lock_timeout = '300ms'");
                }
                assertThatThrownBy(() -> SnapshotWriter.restore(new ByteArrayInputStream(snapshot), c,
                        Clock.fixed(RESTORED_AT, ZoneOffset.UTC), "operator"))
                        .isInstanceOfSatisfying(SQLException.class, e -> {
                            assertThat(e.getSQLState()).as(e.toString()).isEqualTo("55P03"); // lock_not_available
                            assertThat(e.getSuppressed()).isEmpty();
                        })
                        .hasMessageContaining("lock timeout");
                blocker.rollback();

                // Nothing was kept: the store is as the migrations left it, and a restore goes through now.
                SnapshotWriter.requireEmpty(c);
                assertThat(ids(target, "select last_sequence from revocation_head")).containsExactly(0L);
                assertThat(ids(target, "select id from audit_events")).isEmpty();
                c.setAutoCommit(true);
                try (Statement s = c.createStatement()) {
                    s.execute("set lock_timeout = 0");
                }
                SnapshotWriter.restore(new ByteArrayInputStream(snapshot), c, Clock.fixed(RESTORED_AT, ZoneOffset.UTC), "operator");
            }
            assertThat(ids(target, "select id from audit_events order by id")).containsExactly(1L, 2L, 3L);
        }
    }

    /** Column names go into SQL: a backup whose table lists another column is refused before any statement. */
    @ParameterizedTest
    @EnumSource(Target.class)
    void aTableWhoseColumnsAreNotTheStoresIsRefused(Target kind) throws Exception {
        for (String column : List.of("id) values (1); drop table audit_events; --", "nickname")) {
            ByteArrayOutputStream altered = new ByteArrayOutputStream();
            var in = new ByteArrayInputStream(snapshot);
            for (var chunk = dev.lanyard.v1.BackupChunk.parseDelimitedFrom(in); chunk != null;
                    chunk = dev.lanyard.v1.BackupChunk.parseDelimitedFrom(in)) {
                if (chunk.hasTable() && chunk.getTable().getName().equals("join_tokens")) {
                    chunk = chunk.toBuilder().setTable(chunk.getTable().toBuilder().setColumns(0, column)).build();
                }
                chunk.writeDelimitedTo(altered);
            }
            try (Database target = kind.open.apply(dir.resolve("target-" + column.length()));
                    Connection c = target.dataSource().getConnection()) {
                assertThatThrownBy(() -> SnapshotWriter.restore(new ByteArrayInputStream(altered.toByteArray()), c,
                        Clock.fixed(RESTORED_AT, ZoneOffset.UTC), "operator"))
                        .isInstanceOf(InvalidBackupException.class)
                        .hasMessageContaining("the backup's table join_tokens has 6 columns that are not this store's");
                c.setAutoCommit(true);
                SnapshotWriter.requireEmpty(c);
                assertThat(ids(target, "select count(*) from audit_events")).containsExactly(0L);
            }
        }
    }

    private static List<Long> ids(Database db, String sql) throws SQLException {
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement();
                ResultSet rows = s.executeQuery(sql)) {
            List<Long> ids = new java.util.ArrayList<>();
            while (rows.next()) {
                ids.add(rows.getLong(1));
            }
            return ids;
        }
    }
}
