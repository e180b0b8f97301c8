package dev.lanyard.store;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/**
 * The audit trail in the database: insert only, never updated or deleted by Lanyard. Each append
 * takes the one-row head under a row lock, so ids have no gaps and every record links to the one
 * before it, also with several replicas writing to one database.
 */
public final class JdbcAuditLog implements AuditLog {

    private final Jdbc jdbc;

    public JdbcAuditLog(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
        chainUnchained();
    }

    @Override
    public void record(AuditEvent e) {
        jdbc.inTransaction(c -> {
            append(c, e);
            return null;
        });
    }

    /** Appends {@code e} to the chain inside the caller's transaction, so it commits with the caller's writes. */
    static void append(Connection c, AuditEvent e) throws SQLException {
        AuditEvent event = new AuditEvent(AuditChain.stored(e.time()), e.actor(), e.action(), e.target(), e.outcome(),
                e.reason());
        Head head = lockHead(c);
        long id = head.lastId() + 1;
        String hash = AuditChain.hash(id, event, head.lastHash());
        Jdbc.update(c, "insert into audit_events (id, occurred_at, actor, action, target, outcome, reason,"
                + " previous_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", s -> {
                    s.setLong(1, id);
                    Jdbc.setInstant(s, 2, event.time());
                    s.setString(3, event.actor());
                    s.setString(4, event.action());
                    s.setString(5, event.target());
                    s.setString(6, event.outcome().name());
                    s.setString(7, event.reason());
                    s.setString(8, head.lastHash());
                    s.setString(9, hash);
                });
        setHead(c, id, hash);
    }

    @Override
    public List<AuditEvent> recent(int limit) {
        return jdbc.query("select * from audit_events order by id desc fetch first ? rows only",
                s -> s.setInt(1, limit), row -> map(row).event());
    }

    @Override
    public List<AuditRecord> list(AuditQuery q) {
        Where where = new Where();
        if (!q.newestFirst()) {
            where.and("id > ?", (s, i) -> s.setLong(i, q.afterId()));
        } else if (q.afterId() > 0) {
            where.and("id < ?", (s, i) -> s.setLong(i, q.afterId()));
        }
        q.actor().ifPresent(v -> where.and("actor = ?", (s, i) -> s.setString(i, v)));
        q.actionPrefix().ifPresent(v -> where.and("action like ? escape '!'", (s, i) -> s.setString(i,
                v.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%")));
        q.target().ifPresent(v -> where.and("target = ?", (s, i) -> s.setString(i, v)));
        q.outcome().ifPresent(v -> where.and("outcome = ?", (s, i) -> s.setString(i, v.name())));
        q.since().ifPresent(v -> where.and("occurred_at >= ?", (s, i) -> Jdbc.setInstant(s, i, v)));
        q.until().ifPresent(v -> where.and("occurred_at < ?", (s, i) -> Jdbc.setInstant(s, i, v)));
        String sql = "select * from audit_events" + where.sql()
                + (q.newestFirst() ? " order by id desc" : " order by id") + " fetch first ? rows only";
        return jdbc.query(sql, s -> s.setInt(where.bind(s), q.limit()), JdbcAuditLog::map);
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
            Head head = lockHead(c);
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
                setHead(c, id, previous);
            }
            return null;
        });
    }

    private record Head(long lastId, String lastHash) {
    }

    private static Head lockHead(Connection c) throws SQLException {
        return Jdbc.query(c, "select last_id, last_hash from audit_head where id = 1 for update", s -> { },
                row -> new Head(row.getLong(1), row.getString(2))).get(0);
    }

    private static void setHead(Connection c, long id, String hash) throws SQLException {
        Jdbc.update(c, "update audit_head set last_id = ?, last_hash = ? where id = 1", s -> {
            s.setLong(1, id);
            s.setString(2, hash);
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
