package dev.lanyard.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;

/** A pooled JDBC database with the schema migrated to the current version before first use. */
public final class Database implements AutoCloseable {

    private final HikariDataSource dataSource;

    private Database(HikariDataSource dataSource) {
        this.dataSource = dataSource;
    }

    public static Database open(String jdbcUrl, String user, String password) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(8);
        config.setPoolName("lanyard");
        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot connect to the database " + redact(jdbcUrl) + ": "
                    + rootMessage(e), e);
        }
        try {
            // Shared migrations, and PostgreSQL's own (the triggers that notify other replicas of changes).
            String[] locations = jdbcUrl.startsWith("jdbc:postgresql:")
                    ? new String[] {"classpath:db/migration", "classpath:db/vendor/postgresql"}
                    : new String[] {"classpath:db/migration"};
            Flyway.configure().dataSource(dataSource).locations(locations).load().migrate();
        } catch (FlywayException e) {
            dataSource.close();
            throw new IllegalStateException("cannot migrate the database schema: " + e.getMessage(), e);
        }
        return new Database(dataSource);
    }

    /**
     * The embedded default: an H2 file in the data directory. H2 normally writes commits up to
     * 500 ms later (WRITE_DELAY); with 0 every commit reaches the file before it returns, so a killed
     * server loses nothing it acknowledged (a power loss can still lose what the OS had not synced:
     * that is what PostgreSQL is for).
     */
    public static Database h2File(Path dataDir) {
        String url = "jdbc:h2:file:" + dataDir.toAbsolutePath().resolve("lanyard")
                + ";DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=10000;WRITE_DELAY=0";
        return open(url, "lanyard", "");
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** PostgreSQL can push changes to replicas (LISTEN/NOTIFY); H2 cannot. */
    public boolean isPostgres() {
        return dataSource.getJdbcUrl().startsWith("jdbc:postgresql:");
    }

    /** A connection of its own, outside the pool, for a long LISTEN (the pool would recycle it). */
    public Connection openDedicatedConnection() throws SQLException {
        Properties properties = new Properties();
        if (dataSource.getUsername() != null && !dataSource.getUsername().isEmpty()) {
            properties.setProperty("user", dataSource.getUsername());
        }
        if (dataSource.getPassword() != null && !dataSource.getPassword().isEmpty()) {
            properties.setProperty("password", dataSource.getPassword());
        }
        return DriverManager.getConnection(dataSource.getJdbcUrl(), properties);
    }

    @Override
    public void close() {
        dataSource.close();
    }

    /** JDBC URLs may carry a password parameter; never echo one. */
    public static String redact(String jdbcUrl) {
        return jdbcUrl.replaceAll("(?i)(password=)[^;&]*", "$1***");
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
