package dev.lanyard.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pooled JDBC database with the schema migrated to the current version before first use, whose
 * commits are on stable storage before they return: H2 syncs its file after each commit, one sync
 * shared by the commits that finished before it ({@link GroupSync}); SQLite syncs its write-ahead
 * log at each commit (synchronous=FULL); PostgreSQL runs with synchronous_commit (set per connection
 * if the server's default is off).
 */
public final class Database implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Database.class);
    private static final Duration COMPACTION_INTERVAL = Duration.ofSeconds(5);
    /**
     * H2 file settings. WRITE_DELAY=0: each commit is written before it returns (and synced, see
     * {@link #open}). COMPRESS: pages are LZF-compressed (about a fifth fewer bytes written per commit
     * than 4 KB plain pages, for the same CPU). QUERY_CACHE_SIZE: each session keeps its parsed
     * statements; a renewal runs about ten distinct ones and H2's default of 8 re-parsed most of them
     * on every call (8 % of the server's CPU per renewal in a profile). RETENTION_TIME stays at H2's default (45 s):
     * with RETENTION_TIME=1000 the file stayed near 1.7 KB per certificate, but a server killed right
     * after a commit came back without its last commits (KilledServerTest, 2 runs in 3): MVStore
     * reused the space of chunks it still needed to find the newest ones on open. Durable beats small;
     * see issue 11 for the store that can give both.
     */
    static final String H2_SETTINGS = ";DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=10000;WRITE_DELAY=0"
            + ";COMPRESS=TRUE;QUERY_CACHE_SIZE=64";
    /** Sessions whose server default is off get it on; any stronger setting (remote_apply, ...) stays. */
    private static final String POSTGRES_SYNCHRONOUS_COMMIT = "select set_config('synchronous_commit', 'on', false)"
            + " where current_setting('synchronous_commit') = 'off'";

    /**
     * SQLite settings, on every connection. WAL: a commit appends its pages to the write-ahead log and
     * leaves the database file to the checkpoint, which writes them back in place and lets the log be
     * reused (the file does not grow with each commit, as H2's copy-on-write chunks do). synchronous=FULL:
     * the log is fsync'd at every commit, before it returns (NORMAL would sync only at checkpoints,
     * and a power loss could take the last commits). busy_timeout: a writer waits for the one writer
     * SQLite allows at a time, as long as H2's LOCK_TIMEOUT, instead of failing at once.
     * journal_size_limit: the log keeps its largest size on disk; after a large transaction (a restore,
     * a preload) a checkpoint cuts it back to 16 MB, above the 4 MB that a checkpoint every 1,000 pages
     * (SQLite's default) leaves in steady use. The schema declares no foreign keys, so foreign_keys
     * stays off. jdbc.get_generated_keys (the driver's, not SQLite's): off, or the driver runs a query
     * for the new row id after every insert; {@link SqliteDataSource} reads it only when asked.
     */
    private static final Map<String, String> SQLITE_SETTINGS = Map.of("journal_mode", "WAL", "synchronous", "FULL",
            "busy_timeout", "10000", "journal_size_limit", Long.toString(16L << 20), "jdbc.get_generated_keys", "false");

    private final HikariDataSource pool;
    private final DataSource dataSource;
    private final Optional<GroupSync> sync;
    private final Dialect dialect;
    private final Optional<ScheduledExecutorService> compaction;

    private Database(HikariDataSource pool, DataSource dataSource, Optional<GroupSync> sync, Dialect dialect) {
        this.pool = pool;
        this.dialect = dialect;
        this.compaction = sync.map(s -> {
            ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread thread = new Thread(r, "lanyard-h2-compaction");
                thread.setDaemon(true);
                return thread;
            });
            executor.scheduleWithFixedDelay(new H2Compaction(pool), COMPACTION_INTERVAL.toMillis(),
                    COMPACTION_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
            return executor;
        });
        this.dataSource = dataSource;
        this.sync = sync;
    }

    public static Database open(String jdbcUrl, String user, String password) {
        Dialect dialect = Dialect.ofUrl(jdbcUrl);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        if (dialect == Dialect.SQLITE) {
            SQLITE_SETTINGS.forEach(config::addDataSourceProperty); // SQLite has no users
            // A local file needs no fresh connections; kept ones keep their prepared statements (SqliteStatements).
            config.setMaxLifetime(0);
        } else {
            config.setUsername(user);
            config.setPassword(password);
        }
        config.setMaximumPoolSize(8);
        config.setPoolName("lanyard");
        if (dialect == Dialect.POSTGRESQL) {
            config.setConnectionInitSql(POSTGRES_SYNCHRONOUS_COMMIT);
        }
        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot connect to the database " + redact(jdbcUrl) + ": "
                    + rootMessage(e), e);
        }
        try {
            if (dialect == Dialect.SQLITE) {
                requireDurableSqlite(dataSource);
            }
            // Shared migrations, and PostgreSQL's own (the triggers that notify other replicas of changes).
            String[] locations = dialect == Dialect.POSTGRESQL
                    ? new String[] {"classpath:db/migration", "classpath:db/vendor/postgresql"}
                    : new String[] {"classpath:db/migration"};
            FluentConfiguration flyway = Flyway.configure().dataSource(dataSource).locations(locations);
            if (dialect == Dialect.SQLITE) {
                flyway.resourceProvider(new SqliteMigrations(flyway));
            }
            flyway.load().migrate();
        } catch (FlywayException | IllegalStateException e) {
            dataSource.close();
            throw e instanceof FlywayException ? new IllegalStateException("cannot migrate the database schema: "
                    + e.getMessage(), e) : e;
        }
        return switch (dialect) {
            case POSTGRESQL -> {
                warnIfNotDurable(dataSource);
                yield new Database(dataSource, dataSource, Optional.empty(), dialect);
            }
            // SQLite syncs its log at each commit itself (synchronous=FULL): no group sync.
            case SQLITE -> new Database(dataSource, new SqliteDataSource(dataSource), Optional.empty(), dialect);
            case H2 -> {
                // CHECKPOINT SYNC stores what H2 has not written yet (MVStore commit) and forces the file (fsync).
                GroupSync sync = new GroupSync(c -> {
                    try (PreparedStatement s = c.prepareStatement("checkpoint sync")) {
                        s.execute();
                    }
                });
                yield new Database(dataSource, new DurableDataSource(dataSource, sync), Optional.of(sync), dialect);
            }
        };
    }

    /** A URL may override the settings; a store that would acknowledge commits it can lose does not start. */
    private static void requireDurableSqlite(DataSource dataSource) {
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            String journal;
            int synchronous;
            try (ResultSet row = s.executeQuery("pragma journal_mode")) {
                row.next();
                journal = row.getString(1);
            }
            try (ResultSet row = s.executeQuery("pragma synchronous")) {
                row.next();
                synchronous = row.getInt(1);
            }
            if (!"wal".equalsIgnoreCase(journal) || synchronous < 2) {
                throw new IllegalStateException("SQLite runs with journal_mode=" + journal + " and synchronous="
                        + synchronous + ": Lanyard needs journal_mode=WAL and synchronous=FULL (2) or EXTRA (3)"
                        + " so that every commit is on stable storage before it returns; remove them from database.url");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read SQLite's settings: " + e.getMessage(), e);
        }
    }

    /** With fsync off PostgreSQL acknowledges commits it may lose on a crash: say so at start. */
    private static void warnIfNotDurable(DataSource dataSource) {
        try (Connection c = dataSource.getConnection();
                PreparedStatement s = c.prepareStatement("select current_setting('fsync'),"
                        + " current_setting('synchronous_commit')");
                ResultSet row = s.executeQuery()) {
            row.next();
            if (!"on".equals(row.getString(1))) {
                LOG.warn("PostgreSQL runs with fsync={}: commits are not durable across a crash; set fsync=on",
                        row.getString(1));
            }
            LOG.info("PostgreSQL synchronous_commit={}", row.getString(2));
        } catch (SQLException e) {
            LOG.warn("cannot read PostgreSQL's fsync setting: {}", e.getMessage());
        }
    }

    /**
     * An H2 file in the data directory (the embedded store before SQLite; such directories keep it).
     * H2 normally writes commits up to 500 ms later (WRITE_DELAY); with 0 every commit reaches the
     * file before it returns, and the sync after it (see {@link #open}) puts it on stable storage, so
     * neither a killed server nor a power loss loses what it acknowledged.
     */
    public static Database h2File(Path dataDir) {
        return h2("file:" + dataDir.toAbsolutePath().resolve("lanyard"));
    }

    /**
     * An SQLite file in the data directory, {@code lanyard.db} (with its write-ahead log {@code lanyard.db-wal}
     * beside it while it is open). Every commit is in the log and synced before it returns; see
     * {@link #SQLITE_SETTINGS}.
     */
    public static Database sqliteFile(Path dataDir) {
        return open("jdbc:sqlite:" + sqlitePath(dataDir), "", "");
    }

    /** Where {@link #sqliteFile} keeps the store. */
    public static Path sqlitePath(Path dataDir) {
        return dataDir.toAbsolutePath().resolve("lanyard.db");
    }

    /** Where {@link #h2File} keeps the store. */
    public static Path h2Path(Path dataDir) {
        return dataDir.toAbsolutePath().resolve("lanyard.mv.db");
    }

    /** @param location an H2 database name: {@code file:/path/name}, or a registered file system's prefix (tests) */
    static Database h2(String location) {
        return open("jdbc:h2:" + location + H2_SETTINGS, "lanyard", "");
    }

    /** Commits are on stable storage before they return through this data source. */
    public DataSource dataSource() {
        return dataSource;
    }

    /** PostgreSQL can push changes to replicas (LISTEN/NOTIFY); H2 and SQLite cannot. */
    public boolean isPostgres() {
        return dialect == Dialect.POSTGRESQL;
    }

    public Dialect dialect() {
        return dialect;
    }

    /** A connection of its own, outside the pool, for a long LISTEN (the pool would recycle it). */
    public Connection openDedicatedConnection() throws SQLException {
        Properties properties = new Properties();
        if (dialect == Dialect.SQLITE) {
            properties.putAll(SQLITE_SETTINGS);
            return SqliteDataSource.wrap(DriverManager.getConnection(pool.getJdbcUrl(), properties));
        }
        if (pool.getUsername() != null && !pool.getUsername().isEmpty()) {
            properties.setProperty("user", pool.getUsername());
        }
        if (pool.getPassword() != null && !pool.getPassword().isEmpty()) {
            properties.setProperty("password", pool.getPassword());
        }
        return DriverManager.getConnection(pool.getJdbcUrl(), properties);
    }

    /**
     * Bytes the store takes on disk: the H2 file (with what MVStore has not reclaimed yet), the SQLite
     * file with its write-ahead log, or the PostgreSQL database; -1 if it cannot be read.
     */
    public long bytesOnDisk() {
        try (Connection c = pool.getConnection()) {
            if (dialect == Dialect.SQLITE) {
                return sqliteBytesOnDisk(c);
            }
            String sql = dialect == Dialect.H2 ? "select setting_value from information_schema.settings where setting_name = 'info.FILE_SIZE'"
                    : "select pg_database_size(current_database())";
            try (PreparedStatement s = c.prepareStatement(sql); ResultSet row = s.executeQuery()) {
                return row.next() ? Long.parseLong(row.getString(1)) : -1;
            }
        } catch (SQLException | NumberFormatException e) {
            return -1;
        }
    }

    private static long sqliteBytesOnDisk(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet row = s.executeQuery("pragma database_list")) {
            row.next(); // main
            Path file = Path.of(row.getString("file"));
            long bytes = 0;
            for (Path part : new Path[] {file, Path.of(file + "-wal")}) {
                try {
                    bytes += Files.size(part);
                } catch (NoSuchFileException e) {
                    // no log (yet, or after a clean close)
                } catch (IOException e) {
                    return -1;
                }
            }
            return bytes;
        }
    }

    /** For H2, how many commits were made durable and with how many syncs; empty where the database syncs itself. */
    public Optional<SyncCounts> syncCounts() {
        return sync.map(s -> new SyncCounts(s.commits(), s.syncs()));
    }

    public record SyncCounts(long commits, long syncs) {
    }

    /** Runs the H2 compaction now (tests; the server runs it every few seconds). */
    boolean compactNow() throws SQLException {
        return new H2Compaction(pool).compactOnce();
    }

    @Override
    public void close() {
        // Not shutdownNow: an interrupt inside H2's file I/O closes the file channel under the store.
        compaction.ifPresent(executor -> {
            executor.shutdown();
            try {
                executor.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        pool.close();
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
