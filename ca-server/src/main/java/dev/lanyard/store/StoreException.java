package dev.lanyard.store;

import java.sql.SQLException;

/** The database failed; the caller cannot fix it, the operator can (the cause says how). */
public final class StoreException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    StoreException(SQLException cause) {
        super("database error (SQLState " + cause.getSQLState() + "): " + cause.getMessage(), cause);
    }

    /**
     * Whether {@code failure} (or what caused it) is a lost database connection: PostgreSQL restarted or
     * failed over, or the network dropped. The pool replaces the connection; a retry is served.
     */
    public static boolean isConnectionLost(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null
                    // 08: connection exception; 57P01-57P03: the server shut down or cannot connect now
                    && (sql.getSQLState().startsWith("08") || sql.getSQLState().startsWith("57P0"))) {
                return true;
            }
            if (t.getCause() == t) {
                return false;
            }
        }
        return false;
    }
}
