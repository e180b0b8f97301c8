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
     * Locks the identity and refuses (rolling the transaction back) when it has no registration, it
     * is revoked, or a certificate the request rests on ({@code presentedSerials}: the caller's, and a
     * node agent's when it asks for a workload) is; and, retryably, when a workload's registration is
     * not {@code decidedOn}, the one the caller decided on (it was deleted and created again meanwhile).
     * A node agent's own SVID is decided on its agents row, not compared. An agent's revocation is seen
     * through its certificate's serial: revoking an identity revokes its live certificates by serial in
     * the same transaction, so only the workload's row is locked (one lock order, as revocations take).
     */
    static void lockUnrevoked(Connection c, String spiffeId, List<String> presentedSerials,
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
        String serials = presentedSerials.isEmpty() ? ""
                : " or (target_kind = 'SERIAL' and target in (" + String.join(", ",
                        Collections.nCopies(presentedSerials.size(), "?")) + "))";
        // Only this server's own revocations ('' trust domain) can name our identities and serials; the
        // trust domain also leads the primary key, so this is a key lookup on every issuance.
        List<String[]> revoked = Jdbc.query(c, "select target_kind, target from revocations where trust_domain = ''"
                + " and ((target_kind = 'SPIFFE_ID' and target = ?)" + serials + ")", s -> {
                    s.setString(1, spiffeId);
                    for (int i = 0; i < presentedSerials.size(); i++) {
                        s.setString(i + 2, presentedSerials.get(i));
                    }
                }, row -> new String[] {row.getString(1), row.getString(2)});
        if (!revoked.isEmpty()) {
            String what = revoked.stream().anyMatch(r -> r[0].equals("SPIFFE_ID")) ? spiffeId
                    : "certificate " + revoked.get(0)[1];
            throw new RefusedInTransaction(Refusal.denied(what + " was revoked while this request was being served"));
        }
    }
}
