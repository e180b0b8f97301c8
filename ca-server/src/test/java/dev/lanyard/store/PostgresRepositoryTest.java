package dev.lanyard.store;

import dev.lanyard.testing.TestPostgres;

/**
 * The storage contract on a real PostgreSQL, started from Maven Central's binaries for this test
 * JVM ({@link TestPostgres}); each test gets a new empty database.
 */
class PostgresRepositoryTest extends RepositoryContractTest {

    @Override
    Database openFreshDatabase() {
        TestPostgres postgres = TestPostgres.get();
        return Database.open(postgres.newDatabase(), postgres.user(), "");
    }
}
