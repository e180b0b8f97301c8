package dev.lanyard.store;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import javax.sql.DataSource;

/** The audit trail in the database: insert only, never updated or deleted by Lanyard. */
public final class JdbcAuditLog implements AuditLog {

    private final Jdbc jdbc;

    public JdbcAuditLog(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void record(AuditEvent e) {
        jdbc.update("insert into audit_events (occurred_at, actor, action, target, outcome, reason)"
                + " values (?, ?, ?, ?, ?, ?)", s -> {
                    Jdbc.setInstant(s, 1, e.time());
                    s.setString(2, e.actor());
                    s.setString(3, e.action());
                    s.setString(4, e.target());
                    s.setString(5, e.outcome().name());
                    s.setString(6, e.reason());
                });
    }

    @Override
    public List<AuditEvent> recent(int limit) {
        return jdbc.query("select * from audit_events order by id desc fetch first ? rows only",
                s -> s.setInt(1, limit), JdbcAuditLog::map);
    }

    private static AuditEvent map(ResultSet row) throws SQLException {
        return new AuditEvent(Jdbc.getInstant(row, "occurred_at"), row.getString("actor"), row.getString("action"),
                row.getString("target"), AuditEvent.Outcome.valueOf(row.getString("outcome")), row.getString("reason"));
    }
}
