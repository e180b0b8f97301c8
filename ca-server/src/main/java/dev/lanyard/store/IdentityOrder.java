package dev.lanyard.store;

import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import dev.lanyard.registration.Registration;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * Orders issuance and revocation of one identity in the database: both lock the identity's
 * registration row first. A certificate or token recorded under the lock was either committed before
 * a revocation of its identity (which then finds and revokes it) or sees that revocation and is
 * refused; nothing issued while a revocation is being written escapes it, on any replica.
 */
final class IdentityOrder {

    private IdentityOrder() {
    }

    /** Locks the identity's registration row (a node agent's: its agents row); false when it has none. */
    static boolean lock(Connection c, String spiffeId) throws SQLException {
        String table = isAgent(spiffeId) ? "agents" : "registrations";
        return !Jdbc.query(c, "select spiffe_id from " + table + " where spiffe_id = ? for update",
                s -> s.setString(1, spiffeId), row -> row.getString(1)).isEmpty();
    }

    /**
     * What an issuance decides on of a workload's registration: its DNS names, longest lifetime and
     * creation time, which also tells one registration from another made for the same SPIFFE ID after
     * a delete (registrations are never updated). DNS names as the registrations table keeps them.
     */
    private record Decided(String dnsNames, long maxTtlSeconds, Instant createdAt) {
        static Decided of(Registration registration) {
            return new Decided(String.join(" ", registration.dnsNames()), registration.maxTtl().getSeconds(),
                    registration.createdAt());
        }
    }

    /** As {@link #lock}, for a workload; what the locked registration decides. */
    private static Optional<Decided> lockRegistration(Connection c, String spiffeId) throws SQLException {
        return Jdbc.query(c, "select dns_names, max_ttl_seconds, created_at from registrations where spiffe_id = ?"
                + " for update", s -> s.setString(1, spiffeId), row -> new Decided(row.getString("dns_names"),
                        row.getLong("max_ttl_seconds"), Jdbc.getInstant(row, "created_at"))).stream().findFirst();
    }

    private static boolean isAgent(String spiffeId) {
        int path = spiffeId.indexOf('/', "spiffe://".length());
        return path > 0 && spiffeId.startsWith(dev.lanyard.registration.Selectors.AGENT_PREFIX, path);
    }

    /**
     * Locks the identity and inserts {@code row} (a certificate's or token's record), or refuses
     * (rolling the transaction back) when it has no registration, it is revoked, or the certificate the
     * caller presented ({@code presentedSerial}) is; and, retryably, when a workload's registration is
     * not {@code decidedOn}, the one the caller decided on (it was deleted and created again meanwhile).
     * A node agent's own SVID is decided on its agents row, not compared.
     *
     * <p>The revocation check and the insert are one statement, {@code insert ... select ... where not
     * exists}: a round trip fewer to PostgreSQL per issuance. It starts once the lock is held, so it sees
     * a revocation that whoever held the lock before committed (each statement of a READ COMMITTED
     * transaction reads what was committed when it started).
     */
    static void insertUnrevoked(Connection c, String spiffeId, Optional<String> presentedSerial,
            Optional<Registration> decidedOn, Insert insert, Jdbc.Binder values) throws SQLException {
        if (decidedOn.isPresent() && !isAgent(spiffeId)) {
            Optional<Decided> locked = lockRegistration(c, spiffeId);
            if (locked.isEmpty()) {
                throw new RefusedInTransaction(Refusal.denied(spiffeId + " has no registration"));
            }
            if (!locked.get().equals(Decided.of(decidedOn.get()))) {
                throw RefusedInTransaction.retryable(Refusal.precondition("the registration of " + spiffeId
                        + " was replaced while this request was being served; ask again"));
            }
        } else if (!lock(c, spiffeId)) {
            throw new RefusedInTransaction(Refusal.denied(spiffeId + " has no registration"));
        }
        int inserted = Jdbc.update(c, insert.sql(), s -> {
            values.bind(s);
            s.setString(insert.columns() + 1, spiffeId);
            s.setString(insert.columns() + 2, presentedSerial.orElse(""));
        });
        if (inserted == 0) {
            List<String> revoked = Jdbc.query(c, "select target_kind from revocations where " + REVOKED, s -> {
                s.setString(1, spiffeId);
                s.setString(2, presentedSerial.orElse(""));
            }, r -> r.getString(1));
            throw new RefusedInTransaction(Refusal.denied((revoked.contains("SPIFFE_ID") ? spiffeId
                    : "certificate " + presentedSerial.orElse("")) + " was revoked while this request was being served"));
        }
    }

    private static final String REVOKED = "(target_kind = 'SPIFFE_ID' and target = ?)"
            + " or (target_kind = 'SERIAL' and target = ?)";

    /** The insert of one record into a table, made only while its identity is not revoked. */
    record Insert(String sql, int columns) {

        /** Values for the columns are parameters 1..n; the revocation check's follow. */
        static Insert into(String table, String... columns) {
            return new Insert("insert into " + table + " (" + String.join(", ", columns) + ") select "
                    + String.join(", ", Collections.nCopies(columns.length, "?"))
                    + " where not exists (select 1 from revocations where " + REVOKED + ")", columns.length);
        }
    }
}
