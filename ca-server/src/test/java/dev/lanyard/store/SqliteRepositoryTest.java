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
}
