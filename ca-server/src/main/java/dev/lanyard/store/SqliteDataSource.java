package dev.lanyard.store;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLIntegrityConstraintViolationException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.sqlite.SQLiteException;

/**
 * SQLite behind the SQL the repositories write for H2 and PostgreSQL, so that they run unchanged:
 * <ul>
 * <li>Transactions begin IMMEDIATE: the write lock is taken at the start, so a transaction that reads
 * then writes is serialised as {@code select ... for update} serialises it elsewhere, and the
 * {@code for update} itself (which SQLite does not parse) is dropped. A second writer waits
 * (busy_timeout) instead of failing. The driver's own transaction handling is not used: at
 * {@code commit()} it begins the next transaction at once, which with IMMEDIATE would hold the write
 * lock until the connection went back to the pool.</li>
 * <li>{@code fetch first N rows only} becomes {@code limit N}.</li>
 * <li>Times ({@link OffsetDateTime} bound with {@code setObject}, read with
 * {@code getObject(column, OffsetDateTime.class)}) are integers, microseconds since the epoch in UTC:
 * 8 bytes where ISO text takes 27, and they compare as the times do.</li>
 * <li>Constraint violations carry the SQLState H2 and PostgreSQL give them (23505 for a duplicate key).</li>
 * </ul>
 */
final class SqliteDataSource extends ConnectionWrappingDataSource {

    private static final int SQLITE_CONSTRAINT = 19;
    private static final int SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
    private static final int SQLITE_CONSTRAINT_UNIQUE = 2067;
    private static final Pattern FOR_UPDATE = Pattern.compile("(?i)\\s+for\\s+update\\b");
    private static final Pattern FETCH_FIRST = Pattern.compile("(?i)\\bfetch\\s+first\\s+(\\?|\\d+)\\s+rows?\\s+only\\b");

    SqliteDataSource(DataSource delegate) {
        super(delegate);
    }

    /**
     * Translations made so far: the repositories' SQL is a small fixed set of strings, so each is
     * rewritten once rather than on every statement. Bounded, should a caller build SQL that varies.
     */
    private static final Map<String, String> TRANSLATED = new ConcurrentHashMap<>();
    private static final int TRANSLATIONS_KEPT = 1024;

    /** The SQL of H2 and PostgreSQL that SQLite spells differently, in SQLite's spelling. */
    static String translate(String sql) {
        String translated = TRANSLATED.get(sql);
        if (translated == null) {
            translated = FETCH_FIRST.matcher(FOR_UPDATE.matcher(sql).replaceAll("")).replaceAll("limit $1");
            if (TRANSLATED.size() < TRANSLATIONS_KEPT) {
                TRANSLATED.put(sql, translated);
            }
        }
        return translated;
    }

    /**
     * Microseconds since the epoch, for any time a request may name (years 1 to 9999): counting them
     * through nanoseconds, as {@code ChronoUnit.MICROS.between} does, overflows beyond 292 years of 1970.
     */
    static long micros(Instant instant) {
        return Math.addExact(Math.multiplyExact(instant.getEpochSecond(), 1_000_000L), instant.getNano() / 1_000);
    }

    static OffsetDateTime time(long micros) {
        return OffsetDateTime.ofInstant(Instant.EPOCH.plus(micros, ChronoUnit.MICROS), ZoneOffset.UTC);
    }

    @Override
    Connection wrapConnection(Connection connection) {
        return wrap(connection);
    }

    /** {@code connection} (in auto-commit mode, as the driver and the pool hand it out) with SQLite's differences. */
    static Connection wrap(Connection connection) {
        return proxy(Connection.class, new Transactions(connection));
    }

    /** Begins, commits and rolls back with SQL; everything else goes to the driver, SQL translated. */
    private static final class Transactions implements InvocationHandler {
        private final Connection connection;
        private Connection driver;
        private SqliteStatements kept;
        private boolean inTransaction;
        private boolean autoCommit = true;
        private boolean readOnly;

        Transactions(Connection connection) {
            this.connection = connection;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "getAutoCommit":
                    return autoCommit;
                case "setAutoCommit":
                    boolean on = (Boolean) args[0];
                    if (on && !autoCommit) {
                        end("commit"); // JDBC: switching auto-commit on commits the transaction
                    }
                    autoCommit = on;
                    return null;
                case "commit":
                    end("commit");
                    return null;
                case "rollback":
                    if (args == null) {
                        end("rollback");
                        return null;
                    }
                    break;
                case "setReadOnly":
                    readOnly = (Boolean) args[0]; // the driver fixes it at open; here it picks the BEGIN
                    return null;
                case "isReadOnly":
                    return readOnly;
                case "close":
                    try {
                        end("rollback"); // the pool must not get a connection that holds the write lock
                    } finally {
                        autoCommit = true;
                        readOnly = false;
                        call(connection, method, args);
                    }
                    return null;
                case "prepareStatement":
                    args[0] = translate((String) args[0]);
                    begin();
                    if (args.length == 1) {
                        String sql = (String) args[0];
                        SqliteStatements kept = kept();
                        PreparedStatement statement = kept.take(driver(), sql);
                        return proxy(PreparedStatement.class, new Statements(statement, () -> kept.give(sql, statement)));
                    }
                    return proxy(PreparedStatement.class, new Statements(call(connection, method, args), null));
                case "createStatement":
                    begin();
                    return proxy(Statement.class, new Statements(call(connection, method, args), null));
                default:
                    break;
            }
            return call(connection, method, args);
        }

        /**
         * Statements of a transaction run after BEGIN IMMEDIATE, taken when the first one is prepared. A
         * read-only transaction (a backup's snapshot) begins DEFERRED: it sees the database as of its first
         * read and holds no lock, so writers go on meanwhile.
         */
        private void begin() throws SQLException {
            if (!autoCommit && !inTransaction) {
                execute(readOnly ? "begin deferred" : "begin immediate");
                inTransaction = true;
            }
        }

        private void end(String how) throws SQLException {
            if (inTransaction) {
                inTransaction = false;
                try {
                    execute(how);
                } catch (SQLException e) {
                    // SQLite rolls a transaction back itself on some errors (a full disk, say): nothing left to end.
                    if (!how.equals("rollback") || e.getMessage() == null || !e.getMessage().contains("no transaction")) {
                        throw e;
                    }
                }
            }
        }

        /** The driver's connection behind the pool's: the one prepared statements are kept for. */
        private Connection driver() throws SQLException {
            if (driver == null) {
                driver = connection.unwrap(org.sqlite.SQLiteConnection.class);
            }
            return driver;
        }

        /** This connection's kept statements, looked up once per checkout rather than per statement. */
        private SqliteStatements kept() throws SQLException {
            if (kept == null) {
                kept = SqliteStatements.of(driver());
            }
            return kept;
        }

        private void execute(String sql) throws SQLException {
            SqliteStatements kept = kept();
            PreparedStatement statement = kept.take(driver(), sql);
            try {
                statement.execute();
            } finally {
                kept.give(sql, statement);
            }
        }
    }

    /** One action on the database that may fail. */
    @FunctionalInterface
    private interface SqlAction {
        void run() throws SQLException;
    }

    /**
     * Translates the SQL a plain statement runs, binds times as integers, and wraps result sets; a kept
     * statement ({@link SqliteStatements}) is given back at close instead of closed.
     */
    private static final class Statements implements InvocationHandler {
        private final Statement statement;
        private final SqlAction giveBack;
        private boolean closed;

        Statements(Object statement, SqlAction giveBack) {
            this.statement = (Statement) statement;
            this.giveBack = giveBack;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            if (giveBack != null) {
                if (name.equals("close")) {
                    if (!closed) {
                        closed = true;
                        giveBack.run();
                    }
                    return null;
                }
                if (name.equals("isClosed")) {
                    return closed;
                }
                if (closed) {
                    throw new SQLException("statement is closed");
                }
            }
            if (args != null && args.length > 0 && args[0] instanceof String sql
                    && (name.startsWith("execute") || name.equals("addBatch"))) {
                args[0] = translate(sql);
            }
            if (name.equals("setObject") && args.length >= 2) {
                if (args[1] instanceof OffsetDateTime time) {
                    ((PreparedStatement) statement).setLong((Integer) args[0], micros(time.toInstant()));
                    return null;
                }
                if (args[1] instanceof Instant instant) {
                    ((PreparedStatement) statement).setLong((Integer) args[0], micros(instant));
                    return null;
                }
            }
            if (name.equals("getGeneratedKeys")) {
                // Read when asked: the driver would read them after every insert (jdbc.get_generated_keys is off).
                Statement lastRowId = statement.getConnection().createStatement();
                return proxy(ResultSet.class, new Rows(lastRowId.executeQuery("select last_insert_rowid()"), lastRowId));
            }
            Object result = call(statement, method, args);
            return result instanceof ResultSet rows ? proxy(ResultSet.class, new Rows(rows, null)) : result;
        }
    }

    /** Reads the integer times back as {@link OffsetDateTime}; closes the statement it came from, if its own. */
    private static final class Rows implements InvocationHandler {
        private final ResultSet rows;
        private final Statement own;

        Rows(ResultSet rows, Statement own) {
            this.rows = rows;
            this.own = own;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (own != null && method.getName().equals("close")) {
                try {
                    rows.close();
                } finally {
                    own.close();
                }
                return null;
            }
            if (method.getName().equals("getObject") && args.length == 2 && args[1] == OffsetDateTime.class) {
                long micros = args[0] instanceof Integer index ? rows.getLong(index) : rows.getLong((String) args[0]);
                return rows.wasNull() ? null : time(micros);
            }
            return call(rows, method, args);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T proxy(Class<T> type, InvocationHandler handler) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler);
    }

    /**
     * The JDBC interface methods the proxies have called, opened once: every java.sql method is public,
     * and the access check Method.invoke otherwise makes on each call cost more than the call.
     */
    private static final Set<Method> OPENED = ConcurrentHashMap.newKeySet();

    private static Object call(Object target, Method method, Object[] args) throws Throwable {
        if (!OPENED.contains(method) && OPENED.add(method)) {
            method.setAccessible(true);
        }
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof SQLException sql ? withSqlState(sql) : e.getCause();
        }
    }

    /**
     * The driver gives SQLite's result codes and no SQLState; the repositories tell a duplicate key
     * (23505) or another constraint (class 23) by SQLState, as H2 and PostgreSQL report them.
     */
    static SQLException withSqlState(SQLException e) {
        if (e.getSQLState() != null || (e.getErrorCode() & 0xff) != SQLITE_CONSTRAINT) {
            return e;
        }
        // getErrorCode() is the primary code (19); which constraint failed is in the extended one.
        int code = e instanceof SQLiteException sqlite ? sqlite.getResultCode().code : e.getErrorCode();
        boolean duplicate = code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY;
        return new SQLIntegrityConstraintViolationException(e.getMessage(), duplicate ? "23505" : "23000",
                e.getErrorCode(), e);
    }
}
