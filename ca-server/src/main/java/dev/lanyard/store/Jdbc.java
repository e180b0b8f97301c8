package dev.lanyard.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/** The few JDBC shapes the repositories need; SQL failures become {@link StoreException}. */
final class Jdbc {

    @FunctionalInterface
    interface Binder {
        void bind(PreparedStatement statement) throws SQLException;
    }

    @FunctionalInterface
    interface RowMapper<T> {
        T map(ResultSet row) throws SQLException;
    }

    @FunctionalInterface
    interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /** A transaction this thread is inside, that every Jdbc on the same data source joins ({@link #joining}). */
    private record Joined(DataSource dataSource, Connection connection) {
    }

    private static final ThreadLocal<Joined> JOINED = new ThreadLocal<>();

    private final DataSource dataSource;

    Jdbc(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /**
     * Runs {@code work} with every query and transaction of this data source on this thread joining
     * {@code connection}'s transaction (its own begin and commit are skipped), so that writes made
     * through other repositories commit or roll back with it.
     */
    <T> T joining(Connection connection, Work<T> work) throws SQLException {
        if (JOINED.get() != null) {
            throw new IllegalStateException("already inside a joined transaction");
        }
        JOINED.set(new Joined(dataSource, connection));
        try {
            return work.run(connection);
        } finally {
            JOINED.remove();
        }
    }

    private Connection joined() {
        Joined joined = JOINED.get();
        return joined != null && joined.dataSource() == dataSource ? joined.connection() : null;
    }

    int update(String sql, Binder binder) {
        return inTransaction(c -> update(c, sql, binder));
    }

    static int update(Connection connection, String sql, Binder binder) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            binder.bind(statement);
            return statement.executeUpdate();
        }
    }

    <T> List<T> query(String sql, Binder binder, RowMapper<T> mapper) {
        Connection joined = joined();
        if (joined != null) {
            try {
                return query(joined, sql, binder, mapper);
            } catch (SQLException e) {
                throw new StoreException(e);
            }
        }
        try (Connection connection = dataSource.getConnection()) {
            return query(connection, sql, binder, mapper);
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    static <T> List<T> query(Connection connection, String sql, Binder binder, RowMapper<T> mapper)
            throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            binder.bind(statement);
            try (ResultSet rows = statement.executeQuery()) {
                List<T> result = new ArrayList<>();
                while (rows.next()) {
                    result.add(mapper.map(rows));
                }
                return result;
            }
        }
    }

    <T> Optional<T> queryOne(String sql, Binder binder, RowMapper<T> mapper) {
        return query(sql, binder, mapper).stream().findFirst();
    }

    <T> T inTransaction(Work<T> work) {
        Connection joined = joined();
        if (joined != null) {
            try {
                return work.run(joined);
            } catch (SQLException e) {
                throw new StoreException(e);
            }
        }
        try (Connection connection = dataSource.getConnection()) {
            boolean autoCommit = connection.getAutoCommit();
            connection.setAutoCommit(false);
            try {
                T result = work.run(connection);
                connection.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                rollback(connection, e);
                throw e;
            } finally {
                restoreAutoCommit(connection, autoCommit);
            }
        } catch (SQLException e) {
            throw new StoreException(e);
        }
    }

    /** Rolls back; a rollback that fails too (the connection is gone) must not hide why the transaction failed. */
    private static void rollback(Connection connection, Exception failure) {
        try {
            connection.rollback();
        } catch (SQLException e) {
            failure.addSuppressed(e);
        }
    }

    /** A connection that cannot take it back is broken: the pool drops it, and what happened stands. */
    private static void restoreAutoCommit(Connection connection, boolean autoCommit) {
        try {
            connection.setAutoCommit(autoCommit);
        } catch (SQLException e) {
            // what the transaction did (or why it failed) is the answer
        }
    }

    /** Truncated to microseconds, the precision both databases keep, so they never round a time up. */
    static void setInstant(PreparedStatement statement, int index, Instant instant) throws SQLException {
        statement.setObject(index, instant == null ? null
                : OffsetDateTime.ofInstant(instant.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC));
    }

    static Instant getInstant(ResultSet row, String column) throws SQLException {
        OffsetDateTime value = row.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    /** SQLState class 23 is an integrity constraint violation on every database we support. */
    static boolean isConstraintViolation(SQLException e) {
        return e.getSQLState() != null && e.getSQLState().startsWith("23");
    }
}
