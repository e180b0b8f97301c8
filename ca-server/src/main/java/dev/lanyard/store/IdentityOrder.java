package dev.lanyard.store;

import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import dev.lanyard.registration.Registration;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
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
     * Locks the identity and refuses (rolling the transaction back) when it has no registration, it
     * is revoked, or the certificate the caller presented ({@code presentedSerial}) is; and, retryably,
     * when a workload's registration is not {@code decidedOn}, the one the caller decided on (it was
     * deleted and created again meanwhile). A node agent's own SVID is decided on its agents row, not
     * compared.
     */
    static void lockUnrevoked(Connection c, String spiffeId, Optional<String> presentedSerial,
            Optional<Registration> decidedOn) throws SQLException {
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
        List<String> revoked = Jdbc.query(c, "select target_kind from revocations where (target_kind = 'SPIFFE_ID'"
                + " and target = ?) or (target_kind = 'SERIAL' and target = ?)", s -> {
                    s.setString(1, spiffeId);
                    s.setString(2, presentedSerial.orElse(""));
                }, row -> row.getString(1));
        if (!revoked.isEmpty()) {
            throw new RefusedInTransaction(Refusal.denied((revoked.contains("SPIFFE_ID") ? spiffeId
                    : "certificate " + presentedSerial.orElse("")) + " was revoked while this request was being served"));
        }
    }
}
