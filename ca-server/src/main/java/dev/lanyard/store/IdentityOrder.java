package dev.lanyard.store;

import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import java.sql.Connection;
import java.sql.SQLException;
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

    private static boolean isAgent(String spiffeId) {
        int path = spiffeId.indexOf('/', "spiffe://".length());
        return path > 0 && spiffeId.startsWith(dev.lanyard.registration.Selectors.AGENT_PREFIX, path);
    }

    /**
     * Locks the identity and refuses (rolling the transaction back) when it has no registration, it
     * is revoked, or the certificate the caller presented ({@code presentedSerial}) is.
     */
    static void lockUnrevoked(Connection c, String spiffeId, Optional<String> presentedSerial) throws SQLException {
        if (!lock(c, spiffeId)) {
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
