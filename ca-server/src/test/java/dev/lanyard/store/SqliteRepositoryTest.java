package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The storage contract on the embedded SQLite store: a real SQLite file in WAL mode. */
class SqliteRepositoryTest extends RepositoryContractTest {

    @TempDir
    Path dir;

    @Override
    Database openFreshDatabase() {
        return Database.sqliteFile(dir);
    }

    @Test
    void aDuplicateKeyCarriesTheSqlStateOfADuplicateAloneAndInABatch() throws Exception {
        try (java.sql.Connection c = db.dataSource().getConnection(); java.sql.Statement s = c.createStatement()) {
            s.execute("create temporary table probe (k integer primary key, u varchar(8) unique, n integer not null)");
            s.execute("insert into probe values (1, 'a', 1)");
            for (String sql : List.of("insert into probe values (1, 'b', 1)", "insert into probe values (2, 'a', 1)")) {
                assertThatThrownBy(() -> s.execute(sql)).isInstanceOfSatisfying(java.sql.SQLException.class,
                        e -> assertThat(stateOf(e)).isEqualTo("23505"));
                try (java.sql.PreparedStatement batch = c.prepareStatement(sql)) {
                    batch.addBatch();
                    assertThatThrownBy(batch::executeBatch).isInstanceOfSatisfying(java.sql.SQLException.class,
                            e -> assertThat(stateOf(e)).as("in a batch").isEqualTo("23505"));
                }
            }
            assertThatThrownBy(() -> s.execute("insert into probe values (3, 'c', null)"))
                    .isInstanceOfSatisfying(java.sql.SQLException.class,
                            e -> assertThat(stateOf(e)).isEqualTo("23000"));
        }
    }

    /** Where AuditAppender looks: the exception, its next ones, its cause. */
    private static String stateOf(java.sql.SQLException failure) {
        for (java.sql.SQLException e = failure; e != null; e = e.getNextException()) {
            if (e.getSQLState() != null) {
                return e.getSQLState();
            }
        }
        return failure.getCause() instanceof java.sql.SQLException cause ? cause.getSQLState() : null;
    }

    @Test
    void dataSurvivesReopeningAndMigrationsRunOnce() {
        new JdbcRegistrationRepository(db.dataSource()).create(new Registration(
                SpiffeId.parse("spiffe://example.org/kept"), List.of(), Duration.ofHours(1), Instant.now()));
        db.close();
        db = Database.sqliteFile(dir);
        assertThat(new JdbcRegistrationRepository(db.dataSource()).find(SpiffeId.parse("spiffe://example.org/kept")))
                .isPresent();
    }

    @Test
    void aReadOnlyTransactionSeesOnePointInTimeAndHoldsNoWriteLock() throws Exception {
        var registrations = new JdbcRegistrationRepository(db.dataSource());
        registrations.create(new Registration(SpiffeId.parse("spiffe://example.org/before"), List.of(),
                Duration.ofHours(1), Instant.now()));
        try (var snapshot = db.openDedicatedConnection()) {
            snapshot.setReadOnly(true); // as a backup's SnapshotReader opens it
            snapshot.setAutoCommit(false);
            assertThat(count(snapshot)).isEqualTo(1);
            // a writer goes on meanwhile (it would wait 10 s, then fail, if the snapshot held the write lock)
            registrations.create(new Registration(SpiffeId.parse("spiffe://example.org/during"), List.of(),
                    Duration.ofHours(1), Instant.now()));
            assertThat(count(snapshot)).as("the snapshot still sees the database as of its first read").isEqualTo(1);
            snapshot.rollback();
            assertThat(count(snapshot)).isEqualTo(2);
            snapshot.rollback();
        }
    }

    @Test
    void aStatementIsPreparedOncePerConnectionAndUsedAgainWithItsParametersCleared() throws Exception {
        var registrations = new JdbcRegistrationRepository(db.dataSource());
        registrations.create(new Registration(SpiffeId.parse("spiffe://example.org/a"), List.of(),
                Duration.ofHours(1), Instant.now()));
        String sql = "select count(*) from registrations where spiffe_id = ?";
        try (var c = db.dataSource().getConnection()) {
            java.sql.PreparedStatement first = c.prepareStatement(sql);
            var driverStatement = first.unwrap(java.sql.PreparedStatement.class);
            first.setString(1, "spiffe://example.org/a");
            try (var row = first.executeQuery()) {
                row.next();
                assertThat(row.getInt(1)).isEqualTo(1);
            }
            try (var nested = c.prepareStatement(sql)) {
                assertThat(nested.unwrap(java.sql.PreparedStatement.class)).as("one in use: another is prepared")
                        .isNotSameAs(driverStatement);
            }
            first.close();
            assertThat(first.isClosed()).isTrue();
            assertThatThrownBy(() -> first.setString(1, "x")).isInstanceOf(java.sql.SQLException.class)
                    .hasMessageContaining("closed");

            try (var again = c.prepareStatement(sql)) {
                assertThat(again.unwrap(java.sql.PreparedStatement.class)).isSameAs(driverStatement);
                try (var row = again.executeQuery()) { // an unbound parameter is null in SQLite
                    row.next();
                    assertThat(row.getInt(1)).as("the parameter bound by its last user is cleared").isZero();
                }
            }
        }
        // Transactions on the kept statements still commit and roll back.
        registrations.create(new Registration(SpiffeId.parse("spiffe://example.org/b"), List.of(),
                Duration.ofHours(1), Instant.now()));
        assertThat(registrations.list(null, 10)).hasSize(2);
    }

    private static int count(java.sql.Connection c) throws Exception {
        try (var s = c.prepareStatement("select count(*) from registrations"); var row = s.executeQuery()) {
            row.next();
            return row.getInt(1);
        }
    }
}
