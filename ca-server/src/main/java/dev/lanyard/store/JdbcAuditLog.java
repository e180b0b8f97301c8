package dev.lanyard.store;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import javax.sql.DataSource;

/**
 * The audit trail in the database: insert only, never updated or deleted by Lanyard. Appends
 * take the one-row head under a row lock, so ids have no gaps and every record links to the one
 * before it, also with several replicas writing to one database ({@link AuditAppender}).
 */
public final class JdbcAuditLog implements AuditLog {

    /** How far out of time order two appended records can be. */
    private static final Duration TIME_ORDER_SLACK = Duration.ofMinutes(5);

    private final Jdbc jdbc;
    private final AuditAppender appender;

    public JdbcAuditLog(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
        this.appender = new AuditAppender(jdbc);
        chainUnchained();
    }

    /**
     * Appends {@code event} inside the caller's transaction on {@code c}, for a writer that owns its
     * connection and commits once (a restore): stored with the rest of that transaction or not at all.
     */
    public static void appendWithin(java.sql.Connection c, AuditEvent event) throws java.sql.SQLException {
        AuditAppender.link(c, AuditAppender.Head.lock(c), List.of(event));
    }

    @Override
    public void record(AuditEvent event) {
        appender.append(event, c -> null);
    }

    @Override
    public CompletableFuture<Void> recordAsync(AuditEvent event) {
        return appender.appendAsync(event, c -> null);
    }

    @Override
    public <T> T preparing(java.util.function.Supplier<T> work) {
        return appender.preparing(work);
    }

    @Override
    public <T, E extends Exception> T recordWith(Function<T, AuditEvent> event, Change<T, E> change) throws E {
        return appender.appendWith(event, change);
    }

    @Override
    public <T, E extends Exception> Optional<T> recordIfChanged(Function<T, AuditEvent> event,
            Change<Optional<T>, E> change) throws E {
        return appender.appendIfChanged(event, change);
    }

    /**
     * Transactions committed since start that appended audit records, and the records in them: records
     * per commit is how many requests share one durable commit.
     */
    public long commits() {
        return appender.commits();
    }

    /** Audit records appended since start (see {@link #commits}). */
    public long appended() {
        return appender.appended();
    }

    /** Appends {@code event} in the same transaction as {@code alongside}: both are stored or neither. */
    void record(AuditEvent event, Jdbc.Work<?> alongside) {
        appender.append(event, alongside);
    }

    /** As {@link #record(AuditEvent, Jdbc.Work)}, without waiting (see {@link AuditAppender#appendAsync}). */
    CompletableFuture<Void> recordAsync(AuditEvent event, Jdbc.Work<?> alongside) {
        return appender.appendAsync(event, alongside);
    }

    @Override
    public List<AuditEvent> recent(int limit) {
        return jdbc.query("select * from audit_events order by id desc fetch first ? rows only",
                s -> s.setInt(1, limit), row -> map(row).event());
    }

    @Override
    public List<AuditRecord> list(AuditQuery q) {
        Where where = filters(q);
        if (!q.newestFirst()) {
            where.and("id > ?", (s, i) -> s.setLong(i, q.afterId()));
        } else if (q.afterId() > 0) {
            where.and("id < ?", (s, i) -> s.setLong(i, q.afterId()));
        }
        String sql = "select * from audit_events" + where.sql()
                + (q.newestFirst() ? " order by id desc" : " order by id") + " fetch first ? rows only";
        return jdbc.query(sql, s -> s.setInt(where.bind(s), q.limit()), JdbcAuditLog::map);
    }

    @Override
    public long count(AuditQuery q) {
        Where where = filters(q);
        return jdbc.query("select count(*) from audit_events" + where.sql(), where::bind, row -> row.getLong(1)).get(0);
    }

    private Where filters(AuditQuery q) {
        Where where = new Where();
        q.actor().ifPresent(v -> where.and("actor = ?", (s, i) -> s.setString(i, v)));
        q.actionPrefix().ifPresent(v -> where.and("action like ? escape '!'", (s, i) -> s.setString(i,
                v.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")));
        q.target().ifPresent(v -> where.and("target = ?", (s, i) -> s.setString(i, v)));
        q.outcome().ifPresent(v -> where.and("outcome = ?", (s, i) -> s.setString(i, v.name())));
        q.since().ifPresent(v -> {
            where.and("occurred_at >= ?", (s, i) -> Jdbc.setInstant(s, i, v));
            // Only a range of the primary key is read: there is no index on the time (it would cost
            // every append), but ids grow with it.
            long from = firstIdAtOrAfter(v.minus(TIME_ORDER_SLACK));
            where.and("id >= ?", (s, i) -> s.setLong(i, from));
        });
        q.until().ifPresent(v -> where.and("occurred_at < ?", (s, i) -> Jdbc.setInstant(s, i, v)));
        return where;
    }

    /**
     * The smallest id whose record is from {@code time} or later, by a binary search over the ids
     * (a few primary-key reads). Records are appended in time order up to {@link #TIME_ORDER_SLACK}
     * (their times are taken before the append waits its turn), so the caller searches from that much
     * earlier and keeps the exact time filter.
     */
    private long firstIdAtOrAfter(Instant time) {
        List<long[]> range = jdbc.query("select min(id), max(id) from audit_events", s -> { },
                row -> new long[] {row.getLong(1), row.getLong(2)});
        long low = range.get(0)[0];
        long high = range.get(0)[1] + 1; // the answer when every record is older
        while (low < high) {
            long middle = low + (high - low) / 2;
            Optional<Instant> at = jdbc.queryOne("select occurred_at from audit_events where id >= ? order by id"
                    + " fetch first 1 rows only", s -> s.setLong(1, middle), row -> Jdbc.getInstant(row, "occurred_at"));
            if (at.isPresent() && at.get().isBefore(time)) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        return low;
    }

    /** A where clause built from optional filters, each with its parameter. */
    private static final class Where {
        @FunctionalInterface
        interface Parameter {
            void set(PreparedStatement statement, int index) throws SQLException;
        }

        private final List<String> clauses = new ArrayList<>();
        private final List<Parameter> parameters = new ArrayList<>();

        void and(String clause, Parameter parameter) {
            clauses.add(clause);
            parameters.add(parameter);
        }

        String sql() {
            return clauses.isEmpty() ? "" : " where " + String.join(" and ", clauses);
        }

        /** Binds every parameter; returns the index of the next one. */
        int bind(PreparedStatement statement) throws SQLException {
            for (int i = 0; i < parameters.size(); i++) {
                parameters.get(i).set(statement, i + 1);
            }
            return parameters.size() + 1;
        }
    }

    /**
     * Records written before the trail was chained (schema V4) get ids, links and hashes now, in
     * their original order, so `lanyard audit verify` covers them too.
     */
    private void chainUnchained() {
        jdbc.inTransaction(c -> {
            AuditAppender.Head head = AuditAppender.Head.lock(c);
            List<AuditRecord> unchained = Jdbc.query(c, "select * from audit_events where hash is null order by id",
                    s -> { }, row -> new AuditRecord(row.getLong("id"), event(row), "", ""));
            long id = head.lastId();
            String previous = head.lastHash();
            for (AuditRecord r : unchained) {
                long newId = ++id;
                String link = previous;
                String hash = AuditChain.hash(newId, r.event(), link);
                Jdbc.update(c, "update audit_events set id = ?, previous_hash = ?, hash = ? where id = ?", s -> {
                    s.setLong(1, -newId); // negative first: the new ids may collide with old ones not yet moved
                    s.setString(2, link);
                    s.setString(3, hash);
                    s.setLong(4, r.id());
                });
                previous = hash;
            }
            if (!unchained.isEmpty()) {
                Jdbc.update(c, "update audit_events set id = -id where id < 0", s -> { });
                new AuditAppender.Head(id, previous).store(c);
            }
            return null;
        });
    }

    private static AuditRecord map(ResultSet row) throws SQLException {
        return new AuditRecord(row.getLong("id"), event(row), row.getString("previous_hash"), row.getString("hash"));
    }

    private static AuditEvent event(ResultSet row) throws SQLException {
        return new AuditEvent(Jdbc.getInstant(row, "occurred_at"), row.getString("actor"), row.getString("action"),
                row.getString("target"), AuditEvent.Outcome.valueOf(row.getString("outcome")), row.getString("reason"));
    }
}
