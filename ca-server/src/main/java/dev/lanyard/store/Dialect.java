package dev.lanyard.store;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Which database a store is on: the few places where they differ (SQLite's SQL and time values in
 * {@link SqliteDataSource}, snapshots in the backup package, bytes on disk) ask this, not the URL.
 */
public enum Dialect {
    H2, POSTGRESQL, SQLITE;

    public static Dialect ofUrl(String jdbcUrl) {
        if (jdbcUrl.startsWith("jdbc:h2:")) {
            return H2;
        }
        if (jdbcUrl.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        if (jdbcUrl.startsWith("jdbc:sqlite:")) {
            return SQLITE;
        }
        throw new IllegalArgumentException("database.url " + Database.redact(jdbcUrl) + " is not an H2, PostgreSQL"
                + " or SQLite JDBC URL (jdbc:h2:, jdbc:postgresql:, jdbc:sqlite:)");
    }

    /** For code handed a connection rather than a {@link Database} (a restore's target). */
    public static Dialect of(Connection c) throws SQLException {
        return ofUrl(c.getMetaData().getURL());
    }
}
