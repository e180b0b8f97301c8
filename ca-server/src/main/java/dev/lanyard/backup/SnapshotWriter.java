package dev.lanyard.backup;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.store.Dialect;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcRevocationRepository;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupHeader;
import dev.lanyard.v1.BackupRow;
import dev.lanyard.v1.BackupTable;
import dev.lanyard.v1.BackupValue;
import java.io.IOException;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a snapshot into a freshly migrated, empty store, in one transaction: every table's rows (the
 * seed rows the migrations made are replaced), identity columns continued after the largest id
 * restored, the revocation sequence moved past any the lost server can have handed out, join tokens
 * and login links unused in the backup voided, and a {@value #ACTION} audit record. A store that holds anything, a snapshot from another schema version, with a table or column this store does
 * not have, or whose counts do not add up, is refused, and nothing is committed.
 */
public final class SnapshotWriter {

    /** The audit action of a restore: the restored chain ends with it. */
    public static final String ACTION = "store.restore";

    /** The one-row heads the migrations seed (revocation sequence, audit chain); every other table starts empty. */
    private static final Set<String> SEEDED = Set.of("revocation_head", "audit_head");

    private SnapshotWriter() {
    }

    /** What a restore wrote. */
    /**
     * What a restore wrote; {@code voidedJoinTokens} and {@code voidedLoginLinks} were unused in the
     * backup and may not be used on the restored store.
     */
    public record Restored(BackupHeader header, int tables, long rows, int voidedJoinTokens, int voidedLoginLinks) {
    }

    /**
     * Reads length-delimited chunks from {@code in} (a decrypting stream) into the store behind {@code c}.
     *
     * @param clock the time of the restore, which the revocation sequence continues above ({@link #revocationFloor})
     * @param actor who restores, for the audit record that ends the restored chain
     */
    public static Restored restore(InputStream in, Connection c, Clock clock, String actor)
            throws IOException, SQLException {
        BackupChunk first = next(in);
        if (!first.hasHeader()) {
            throw new InvalidBackupException("the backup does not start with its header");
        }
        BackupHeader header = first.getHeader();
        if (header.getFormat() != SnapshotReader.FORMAT) {
            throw new InvalidBackupException("backup format " + header.getFormat() + " is not one this Lanyard reads ("
                    + SnapshotReader.FORMAT + ")");
        }
        String version = StoreSchema.version(c);
        if (!version.equals(header.getSchemaVersion())) {
            throw new InvalidBackupException("the backup is of schema version " + header.getSchemaVersion()
                    + " and this Lanyard's is " + version + ": restore with the Lanyard release that made it,"
                    + " then upgrade");
        }
        List<String> tables = StoreSchema.tables(c);
        requireEmpty(c);
        c.setAutoCommit(false);
        try {
            for (String table : tables) {
                try (Statement s = c.createStatement()) {
                    s.executeUpdate("delete from " + table); // the migrations' seed rows
                }
            }
            Set<String> seen = new HashSet<>();
            long rows = 0;
            Insert insert = null;
            while (true) {
                BackupChunk chunk = next(in);
                if (chunk.hasTable()) {
                    if (insert != null) {
                        insert.close();
                    }
                    BackupTable table = chunk.getTable();
                    if (!tables.contains(table.getName()) || !seen.add(table.getName())) {
                        throw new InvalidBackupException("the backup holds a table " + table.getName()
                                + " this store does not have (or holds it twice)");
                    }
                    insert = new Insert(c, table);
                } else if (chunk.hasRows()) {
                    if (insert == null) {
                        throw new InvalidBackupException("the backup holds rows before any table");
                    }
                    rows += insert.add(chunk.getRows().getRowsList());
                } else if (chunk.hasEnd()) {
                    if (insert != null) {
                        insert.close();
                    }
                    if (chunk.getEnd().getTables() != seen.size() || chunk.getEnd().getRows() != rows
                            || !seen.containsAll(tables)) {
                        throw new InvalidBackupException("the backup is incomplete: it announces "
                                + chunk.getEnd().getTables() + " tables and " + chunk.getEnd().getRows()
                                + " rows, and holds " + seen.size() + " tables (of " + tables.size() + ") and "
                                + rows + " rows");
                    }
                    if (in.read() != -1) {
                        throw new InvalidBackupException("the backup holds data after its end");
                    }
                    break;
                } else {
                    throw new InvalidBackupException("the backup holds a part this Lanyard does not know");
                }
            }
            Instant now = clock.instant();
            int tokens = voidUnused(c, "join_tokens", now);
            int links = voidUnused(c, "console_login_links", now);
            restartIdentities(c, tables);
            long floor = revocationFloor(now);
            JdbcRevocationRepository.raiseHead(c, floor);
            // Numbered anew by the first server started on it, at its time: above what the lost server served.
            dev.lanyard.store.JdbcBundleSequences.forget(c);
            JdbcAuditLog.appendWithin(c, new AuditEvent(now, actor, ACTION, "backup taken "
                    + Instant.ofEpochSecond(header.getTakenAt().getSeconds(), header.getTakenAt().getNanos()),
                    AuditEvent.Outcome.SUCCESS, rows + " rows in " + seen.size() + " tables; " + tokens
                            + " unused join tokens and " + links + " unused console login links voided; revocation"
                            + " sequences continue above " + floor));
            c.commit(); // the last step: nothing is rolled back once it returned
            return new Restored(header, seen.size(), rows, tokens, links);
        } catch (IOException | SQLException | RuntimeException e) {
            try {
                c.rollback();
            } catch (SQLException | RuntimeException rollback) {
                e.addSuppressed(rollback); // what went wrong is the first failure, not this one
            }
            throw e;
        }
    }

    /**
     * The revocation sequence a restored store continues above: the restore's time in microseconds
     * since the epoch, unless the backup's own head is higher. The lost server went on after the backup
     * and handed out sequences the backup does not hold; its watchers resume from those (they pass the
     * last one they saw), so the events this store records must be numbered above them, or those
     * watchers would take them for what they have seen and never hear of them. A store's sequences
     * count one per event from 1, or from the floor of an earlier restore, so they stay below the time
     * in microseconds as long as fewer than a million events a second were written since it started (or
     * was last restored): no revocation rate comes near that, where seconds (the CRL numbers' floor: one
     * CRL at a time) or even milliseconds could be outrun by revoking an identity with thousands of live
     * certificates just after a restore. Time only moves the head forward, so a restore on a machine
     * whose clock is behind is no worse than no floor, and a watcher whose sequence is still above the
     * head is refused (OUT_OF_RANGE) and starts again from 0. The value stays below 2^53 (exact as a
     * JSON number) until the year 2255.
     */
    static long revocationFloor(Instant restoredAt) {
        return ChronoUnit.MICROS.between(Instant.EPOCH, restoredAt);
    }

    /**
     * Marks every join token or console login link still unused in the backup as used at {@code now}:
     * the lost server may have redeemed it after the backup, and a secret used once must not work again
     * (an agent's join token names its agent ID). Issue new ones after a restore.
     */
    private static int voidUnused(Connection c, String table, Instant now) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("update " + table + " set used_at = ? where used_at is null")) {
            s.setObject(1, OffsetDateTime.ofInstant(now.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC));
            return s.executeUpdate();
        }
    }

    /**
     * Refuses a database that holds a Lanyard store with anything in it (only the migrations' seed
     * rows may be there). Callers run it before migrating a database they did not create, so that
     * someone's store is not even upgraded by a mistaken restore.
     */
    public static void requireEmpty(Connection c) throws SQLException, NotEmptyException {
        for (String table : StoreSchema.tables(c)) {
            if (!SEEDED.contains(table)) {
                try (Statement s = c.createStatement(); ResultSet any = s.executeQuery("select 1 from " + table
                        + " fetch first 1 rows only")) {
                    if (any.next()) {
                        throw new NotEmptyException("the target store is not empty (table " + table + " has rows):"
                                + " restore into a new, empty store");
                    }
                }
            }
        }
    }

    /** The target already holds a store; a restore never merges into one. */
    public static final class NotEmptyException extends IOException {
        NotEmptyException(String message) {
            super(message);
        }
    }

    private static BackupChunk next(InputStream in) throws IOException {
        BackupChunk chunk = BackupChunk.parseDelimitedFrom(in);
        if (chunk == null) {
            throw new InvalidBackupException("the backup ends before its end marker");
        }
        return chunk;
    }

    /**
     * Identity columns continue after the largest id restored (explicit ids do not move them). Inside
     * the restore's transaction: PostgreSQL's ALTER TABLE is transactional, and H2's restart of an
     * identity neither commits the transaction nor is undone by its rollback (the ids of a store that
     * was then rolled back skip a few, which is harmless). SQLite has no identity columns.
     */
    private static void restartIdentities(Connection c, List<String> tables) throws SQLException {
        for (String table : tables) {
            for (String column : StoreSchema.identityColumns(c, table)) {
                long next;
                try (Statement s = c.createStatement();
                        ResultSet max = s.executeQuery("select coalesce(max(" + column + "), 0) + 1 from " + table)) {
                    max.next();
                    next = max.getLong(1);
                }
                try (Statement s = c.createStatement()) {
                    s.execute("alter table " + table + " alter column " + column + " restart with " + next);
                }
            }
        }
    }

    /** A batched insert into one table, with the target's column types. */
    private static final class Insert implements AutoCloseable {
        private final PreparedStatement statement;
        private final int[] types;
        private final String table;

        Insert(Connection c, BackupTable table) throws SQLException, InvalidBackupException {
            this.table = table.getName();
            List<String> columns = table.getColumnsList();
            // The names go into SQL: they must be exactly this store's columns of the table, each once.
            List<String> sorted = new java.util.ArrayList<>(columns);
            sorted.sort(null);
            List<String> own = StoreSchema.columns(c, this.table);
            if (!sorted.equals(own)) {
                throw new InvalidBackupException("the backup's table " + this.table + " has " + columns.size()
                        + " columns that are not this store's " + own.size() + " (" + String.join(", ", own) + ")");
            }
            this.statement = c.prepareStatement("insert into " + table.getName() + " (" + String.join(", ", columns)
                    + ") values (" + String.join(", ", java.util.Collections.nCopies(columns.size(), "?")) + ")");
            this.types = new int[columns.size()];
            // SQLite's driver knows a parameter's type only once it is bound, and a null needs none there.
            if (Dialect.of(c) != Dialect.SQLITE) {
                var meta = statement.getParameterMetaData();
                for (int i = 0; i < types.length; i++) {
                    types[i] = meta.getParameterType(i + 1);
                }
            }
        }

        int add(List<BackupRow> rows) throws SQLException, InvalidBackupException {
            for (BackupRow row : rows) {
                if (row.getValuesCount() != types.length) {
                    throw new InvalidBackupException("a row of " + table + " has " + row.getValuesCount()
                            + " values for " + types.length + " columns");
                }
                for (int i = 0; i < types.length; i++) {
                    bind(i + 1, row.getValues(i));
                }
                statement.addBatch();
            }
            statement.executeBatch();
            return rows.size();
        }

        private void bind(int index, BackupValue value) throws SQLException {
            switch (value.getValueCase()) {
                case INTEGER -> statement.setLong(index, value.getInteger());
                case TEXT -> statement.setString(index, value.getText());
                case TIME -> statement.setObject(index, OffsetDateTime.ofInstant(Instant.ofEpochSecond(
                        value.getTime().getSeconds(), value.getTime().getNanos()), ZoneOffset.UTC));
                default -> statement.setNull(index, types[index - 1] == 0 ? Types.VARCHAR : types[index - 1]);
            }
        }

        @Override
        public void close() throws SQLException {
            statement.close();
        }
    }
}
