package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

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

    private static int count(java.sql.Connection c) throws Exception {
        try (var s = c.prepareStatement("select count(*) from registrations"); var row = s.executeQuery()) {
            row.next();
            return row.getInt(1);
        }
    }
}
