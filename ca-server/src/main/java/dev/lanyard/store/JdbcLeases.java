package dev.lanyard.store;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.LeaseLostException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Named leases in the database, each with a fencing token that grows whenever the lease changes
 * hands. Taking and renewing lock the row, so two replicas cannot both get it.
 */
public final class JdbcLeases {

    private record Row(String holder, long token, Instant expiresAt) {
    }

    private final Jdbc jdbc;

    public JdbcLeases(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    /**
     * Takes the lease (a new token) if it is free or expired, renews it (same token) if
     * {@code holder} has it; empty if another holder has it until after {@code now}.
     */
    public Optional<Fence> acquire(String name, String holder, Instant now, Instant until) {
        try {
            return jdbc.inTransaction(c -> {
                List<Row> rows = Jdbc.query(c, "select holder, token, expires_at from leases where name = ? for update",
                        s -> s.setString(1, name),
                        r -> new Row(r.getString("holder"), r.getLong("token"), Jdbc.getInstant(r, "expires_at")));
                if (rows.isEmpty()) {
                    Jdbc.update(c, "insert into leases (name, holder, token, expires_at) values (?, ?, 1, ?)", s -> {
                        s.setString(1, name);
                        s.setString(2, holder);
                        Jdbc.setInstant(s, 3, until);
                    });
                    return Optional.of(new Fence(name, holder, 1));
                }
                Row row = rows.get(0);
                boolean mine = row.holder().equals(holder) && row.expiresAt().isAfter(now);
                if (!mine && row.expiresAt().isAfter(now)) {
                    return Optional.<Fence>empty();
                }
                long token = mine ? row.token() : row.token() + 1;
                Jdbc.update(c, "update leases set holder = ?, token = ?, expires_at = ? where name = ?", s -> {
                    s.setString(1, holder);
                    s.setLong(2, token);
                    Jdbc.setInstant(s, 3, until);
                    s.setString(4, name);
                });
                return Optional.of(new Fence(name, holder, token));
            });
        } catch (StoreException e) {
            if (e.getCause() instanceof SQLException sql && Jdbc.isConstraintViolation(sql)) {
                return Optional.empty(); // another replica inserted the first row at the same moment
            }
            throw e;
        }
    }

    /** Gives the lease up at once (if still held under this fence), so the next replica need not wait. */
    public void release(Fence fence) {
        jdbc.update("update leases set expires_at = ? where name = ? and holder = ? and token = ?", s -> {
            Jdbc.setInstant(s, 1, Instant.EPOCH);
            s.setString(2, fence.lease());
            s.setString(3, fence.holder());
            s.setLong(4, fence.token());
        });
    }

    /**
     * Inside a writer's transaction: locks the lease row and refuses unless {@code fence} still
     * holds at {@code now}. A replica that takes the lease meanwhile waits for this transaction.
     */
    static void check(Connection c, Fence fence, Instant now) throws SQLException {
        List<Instant> held = Jdbc.query(c, "select expires_at from leases where name = ? and holder = ? and token = ?"
                + " for update", s -> {
                    s.setString(1, fence.lease());
                    s.setString(2, fence.holder());
                    s.setLong(3, fence.token());
                }, r -> Jdbc.getInstant(r, "expires_at"));
        if (held.isEmpty() || !held.get(0).isAfter(now)) {
            throw new LeaseLostException(fence);
        }
    }
}
