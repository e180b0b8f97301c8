package dev.lanyard.testing;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Makes an SQLite store refuse the audit records of one action (a trigger that aborts their insert),
 * so a test can see that a change whose record cannot be stored is not made either. Works beside a
 * running server: the trigger is in the store, not in the server.
 */
public final class RefusedRecords {

    private RefusedRecords() {
    }

    /** From now on, inserting a record of {@code action} into {@code store} fails with "refused by the test". */
    public static void refuse(Path store, String action) throws SQLException {
        set(store, action);
    }

    /** Records of every action are stored again. */
    public static void allow(Path store) throws SQLException {
        set(store, null);
    }

    /** From now on (or no longer, {@code refuse} false), inserting any issued certificate into {@code store} fails. */
    public static void refuseCertificates(Path store, boolean refuse) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + store); Statement s = c.createStatement()) {
            s.execute("pragma busy_timeout = 10000");
            s.execute("drop trigger if exists refuse_test_certificates");
            if (refuse) {
                s.execute("create trigger refuse_test_certificates before insert on issued_certificates"
                        + " begin select raise(abort, 'refused by the test'); end");
            }
        }
    }

    private static void set(Path store, String action) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + store); Statement s = c.createStatement()) {
            s.execute("pragma busy_timeout = 10000");
            s.execute("drop trigger if exists refuse_test_records");
            if (action != null) {
                s.execute("create trigger refuse_test_records before insert on audit_events when new.action = '"
                        + action.replace("'", "''") + "' begin select raise(abort, 'refused by the test'); end");
            }
        }
    }
}
