package dev.lanyard.backup;

import dev.lanyard.store.Dialect;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a snapshot and a restore read of the store's own shape, in SQL that H2 2.x and PostgreSQL both
 * run; SQLite, which has no information_schema, lists its tables in sqlite_master.
 */
final class StoreSchema {

    /** Flyway's own table: it says which schema version the store is at, and is not backed up. */
    static final String FLYWAY_HISTORY = "flyway_schema_history";

    private StoreSchema() {
    }

    /** The version of the last migration applied. */
    static String version(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("select \"version\" from \"" + FLYWAY_HISTORY + "\""
                + " where \"success\" and \"version\" is not null order by \"installed_rank\" desc fetch first 1 rows only");
                ResultSet row = s.executeQuery()) {
            if (!row.next()) {
                throw new SQLException("the store has no schema version (no applied migration in " + FLYWAY_HISTORY + ")");
            }
            return row.getString(1);
        }
    }

    /** The store's tables, lower case, sorted; Flyway's history left out. */
    static List<String> tables(Connection c) throws SQLException {
        List<String> tables = new ArrayList<>();
        String sql = Dialect.of(c) == Dialect.SQLITE
                ? "select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\'"
                : "select table_name from information_schema.tables"
                        + " where table_schema = current_schema and table_type = 'BASE TABLE'";
        try (PreparedStatement s = c.prepareStatement(sql);
                ResultSet rows = s.executeQuery()) {
            while (rows.next()) {
                String name = rows.getString(1).toLowerCase(Locale.ROOT);
                if (!name.equals(FLYWAY_HISTORY)) {
                    tables.add(name);
                }
            }
        }
        tables.sort(null);
        return tables;
    }

    /** The columns of {@code table}, lower case, sorted. */
    static List<String> columns(Connection c, String table) throws SQLException {
        List<String> columns = new ArrayList<>();
        boolean sqlite = Dialect.of(c) == Dialect.SQLITE;
        try (PreparedStatement s = c.prepareStatement(sqlite ? "select name from pragma_table_info(?)"
                : "select column_name from information_schema.columns"
                        + " where table_schema = current_schema and lower(table_name) = ?")) {
            s.setString(1, table);
            try (ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    columns.add(rows.getString(1).toLowerCase(Locale.ROOT));
                }
            }
        }
        columns.sort(null);
        return columns;
    }

    /**
     * The columns of {@code table} generated as identity (their next value is reset after a restore).
     * None on SQLite: its autoincrement row ids continue after the largest one inserted, given or not.
     */
    static List<String> identityColumns(Connection c, String table) throws SQLException {
        List<String> columns = new ArrayList<>();
        if (Dialect.of(c) == Dialect.SQLITE) {
            return columns;
        }
        try (PreparedStatement s = c.prepareStatement("select column_name from information_schema.columns"
                + " where table_schema = current_schema and lower(table_name) = ? and is_identity = 'YES'")) {
            s.setString(1, table);
            try (ResultSet rows = s.executeQuery()) {
                while (rows.next()) {
                    columns.add(rows.getString(1).toLowerCase(Locale.ROOT));
                }
            }
        }
        return columns;
    }
}
