package dev.lanyard.store;

import java.sql.SQLException;

/** The database failed; the caller cannot fix it, the operator can (the cause says how). */
public final class StoreException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    StoreException(SQLException cause) {
        super("database error (SQLState " + cause.getSQLState() + "): " + cause.getMessage(), cause);
    }
}
