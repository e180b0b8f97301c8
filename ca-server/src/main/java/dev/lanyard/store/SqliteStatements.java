package dev.lanyard.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Statements prepared once per SQLite connection and used again. SQLite compiles every statement
 * it prepares, which for the short statements of a renewal costs about as much as running them, and
 * its driver keeps no cache of its own (PostgreSQL's driver and H2 do). A statement is taken by one
 * user of the connection at a time, as the pool hands the connection to one thread at a time; given
 * back, its parameters are cleared and it waits for the next user of the same SQL.
 */
final class SqliteStatements {

    /** Per connection; the repositories' SQL is a small fixed set. The least recently used goes first. */
    private static final int KEPT = 64;
    /** By the driver's own connection, which the pool keeps open (SQLite connections are never retired). */
    private static final Map<Connection, SqliteStatements> BY_CONNECTION = new HashMap<>();

    private final LinkedHashMap<String, PreparedStatement> idle = new LinkedHashMap<>(16, 0.75f, true);

    private SqliteStatements() {
    }

    /** The statements of {@code connection} (the driver's); forgets those of connections closed meanwhile. */
    static SqliteStatements of(Connection connection) throws SQLException {
        synchronized (BY_CONNECTION) {
            SqliteStatements statements = BY_CONNECTION.get(connection);
            if (statements == null) {
                for (Iterator<Connection> known = BY_CONNECTION.keySet().iterator(); known.hasNext(); ) {
                    if (known.next().isClosed()) {
                        known.remove();
                    }
                }
                statements = new SqliteStatements();
                BY_CONNECTION.put(connection, statements);
            }
            return statements;
        }
    }

    /** An idle statement for {@code sql}, or a newly prepared one; {@link #give} it back when done. */
    PreparedStatement take(Connection connection, String sql) throws SQLException {
        PreparedStatement statement = idle.remove(sql);
        return statement != null && !statement.isClosed() ? statement : connection.prepareStatement(sql);
    }

    /** Keeps {@code statement} for the next user of {@code sql}; closes what is not kept. */
    void give(String sql, PreparedStatement statement) throws SQLException {
        if (statement.isClosed()) {
            return;
        }
        try {
            statement.clearParameters();
            statement.clearBatch();
        } catch (SQLException e) {
            statement.close();
            throw e;
        }
        PreparedStatement other = idle.put(sql, statement);
        if (other != null) {
            other.close(); // two were in use at once; one is enough to keep
        }
        if (idle.size() > KEPT) {
            Iterator<PreparedStatement> eldest = idle.values().iterator();
            PreparedStatement dropped = eldest.next();
            eldest.remove();
            dropped.close();
        }
    }
}
