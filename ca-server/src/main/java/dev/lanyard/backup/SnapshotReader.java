package dev.lanyard.backup;

import com.google.protobuf.Timestamp;
import dev.lanyard.store.Dialect;
import dev.lanyard.v1.BackupChunk;
import dev.lanyard.v1.BackupEnd;
import dev.lanyard.v1.BackupHeader;
import dev.lanyard.v1.BackupRow;
import dev.lanyard.v1.BackupRows;
import dev.lanyard.v1.BackupTable;
import dev.lanyard.v1.BackupValue;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads every table of the store in one snapshot transaction and hands it on as backup chunks.
 * PostgreSQL's REPEATABLE READ and H2's SNAPSHOT both see the whole database as it was at the
 * transaction's first read, whatever commits meanwhile: the CA keys, certificates, revocations and
 * the audit chain with its head agree with each other. (H2's REPEATABLE READ would take each
 * table's snapshot at its own first read, which is not one point in time.) SQLite's read
 * transaction (in WAL mode) sees the database as of its first read too.
 */
public final class SnapshotReader {

    static final int FORMAT = 1;
    private static final int ROWS_PER_CHUNK = 500;

    /** Where the chunks go, in order; it may block (flow control) and throw to stop the read. */
    @FunctionalInterface
    public interface Sink {
        void accept(BackupChunk chunk) throws Exception;
    }

    /** What was read. */
    public record Counts(String schemaVersion, int tables, long rows) {
    }

    private SnapshotReader() {
    }

    /**
     * Reads the store through {@code c} (a connection of its own, closed by the caller) into {@code sink}.
     *
     * @param header the server's part of the header (trust domain, time, custody); the schema version is added here
     */
    public static Counts read(Connection c, Dialect dialect, BackupHeader header, Sink sink) throws Exception {
        if (dialect == Dialect.POSTGRESQL) {
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            c.setReadOnly(true);
        } else if (dialect == Dialect.SQLITE) {
            c.setReadOnly(true); // a deferred transaction: no write lock for the length of the backup
        } else {
            try (Statement s = c.createStatement()) {
                s.execute("set session characteristics as transaction isolation level snapshot");
            }
        }
        c.setAutoCommit(false);
        try {
            String version = StoreSchema.version(c);
            sink.accept(BackupChunk.newBuilder().setHeader(header.toBuilder().setFormat(FORMAT)
                    .setSchemaVersion(version)).build());
            List<String> tables = StoreSchema.tables(c);
            long rows = 0;
            for (String table : tables) {
                rows += table(c, table, dialect, sink);
            }
            sink.accept(BackupChunk.newBuilder().setEnd(BackupEnd.newBuilder().setTables(tables.size()).setRows(rows))
                    .build());
            return new Counts(version, tables.size(), rows);
        } finally {
            c.rollback(); // read only: nothing to keep
        }
    }

    private static long table(Connection c, String table, Dialect dialect, Sink sink) throws Exception {
        try (PreparedStatement s = c.prepareStatement("select * from " + table)) {
            s.setFetchSize(ROWS_PER_CHUNK);
            try (ResultSet rs = s.executeQuery()) {
                ResultSetMetaData meta = rs.getMetaData();
                BackupTable.Builder t = BackupTable.newBuilder().setName(table);
                int[] types = new int[meta.getColumnCount()];
                for (int i = 1; i <= types.length; i++) {
                    t.addColumns(meta.getColumnName(i).toLowerCase(Locale.ROOT));
                    types[i - 1] = meta.getColumnType(i);
                    // SQLite reports a column by the type its values have (integers, for times), not as declared.
                    if (dialect == Dialect.SQLITE && meta.getColumnTypeName(i).toLowerCase(Locale.ROOT).startsWith("timestamp")) {
                        types[i - 1] = Types.TIMESTAMP_WITH_TIMEZONE;
                    }
                }
                sink.accept(BackupChunk.newBuilder().setTable(t).build());
                long count = 0;
                List<BackupRow> batch = new ArrayList<>();
                while (rs.next()) {
                    BackupRow.Builder row = BackupRow.newBuilder();
                    for (int i = 1; i <= types.length; i++) {
                        row.addValues(value(rs, i, types[i - 1], table + "." + t.getColumns(i - 1)));
                    }
                    batch.add(row.build());
                    count++;
                    if (batch.size() == ROWS_PER_CHUNK) {
                        send(batch, sink);
                    }
                }
                if (!batch.isEmpty()) {
                    send(batch, sink);
                }
                return count;
            }
        }
    }

    private static void send(List<BackupRow> batch, Sink sink) throws Exception {
        sink.accept(BackupChunk.newBuilder().setRows(BackupRows.newBuilder().addAllRows(batch)).build());
        batch.clear();
    }

    private static BackupValue value(ResultSet rs, int i, int type, String column) throws SQLException {
        BackupValue.Builder v = BackupValue.newBuilder();
        switch (type) {
            case Types.BIGINT, Types.INTEGER, Types.SMALLINT, Types.TINYINT -> {
                long n = rs.getLong(i);
                return rs.wasNull() ? v.setNull(true).build() : v.setInteger(n).build();
            }
            case Types.VARCHAR, Types.CHAR, Types.LONGVARCHAR, Types.CLOB, Types.NVARCHAR -> {
                String text = rs.getString(i);
                return text == null ? v.setNull(true).build() : v.setText(text).build();
            }
            case Types.TIMESTAMP_WITH_TIMEZONE, Types.TIMESTAMP -> {
                OffsetDateTime time = rs.getObject(i, OffsetDateTime.class);
                return time == null ? v.setNull(true).build() : v.setTime(Timestamp.newBuilder()
                        .setSeconds(time.toEpochSecond()).setNanos(time.getNano())).build();
            }
            // A column of another type would be lost in a restore: fail the backup instead.
            default -> throw new SQLException("column " + column + " has SQL type " + type
                    + ", which backups do not carry yet");
        }
    }
}
