package dev.lanyard.store;

import java.sql.Connection;
import java.sql.Statement;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * The storage contract on PostgreSQL, when LANYARD_TEST_POSTGRES_URL points at one
 * (jdbc:postgresql://host/db?user=..&password=..). Each test starts from an empty schema.
 */
@EnabledIfEnvironmentVariable(named = "LANYARD_TEST_POSTGRES_URL", matches = "jdbc:postgresql:.*")
class PostgresRepositoryTest extends RepositoryContractTest {

    @Override
    Database openFreshDatabase() throws Exception {
        String url = System.getenv("LANYARD_TEST_POSTGRES_URL");
        try (Database cleaner = Database.open(url, null, null);
                Connection c = cleaner.dataSource().getConnection();
                Statement s = c.createStatement()) {
            s.execute("drop schema public cascade");
            s.execute("create schema public");
        }
        return Database.open(url, null, null);
    }
}
