package dev.lanyard.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.h2.engine.SessionLocal;
import org.h2.jdbc.JdbcConnection;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the H2 file near the size of its live data. Every commit writes a new chunk (copy on
 * write); a chunk is reused only once none of its pages is live, and one live page pins a whole
 * chunk. H2 compacts in a background thread that it does not run with WRITE_DELAY=0, so without
 * this the file grew by about 13 KB per issued certificate. Each run moves the live pages out of
 * chunks less than {@link #TARGET_FILL_PERCENT} full (MVStore's own compaction; there is no SQL
 * for it) and syncs.
 */
final class H2Compaction implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(H2Compaction.class);
    static final int TARGET_FILL_PERCENT = 80;
    /** At most this much rewritten per run, so one run never holds the store for long. */
    private static final int MAX_REWRITE_BYTES = 16 << 20;

    private final DataSource dataSource;

    H2Compaction(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    @Override
    public void run() {
        try {
            compactOnce();
        } catch (SQLException | RuntimeException e) {
            LOG.warn("H2 compaction failed (the file may grow until the next run): {}", e.getMessage());
        }
    }

    /** Returns whether anything was rewritten. */
    boolean compactOnce() throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            MVStore store = ((SessionLocal) c.unwrap(JdbcConnection.class).getSession()).getDatabase().getStore()
                    .getMvStore();
            boolean rewritten = store.compact(TARGET_FILL_PERCENT, MAX_REWRITE_BYTES);
            if (rewritten) {
                try (PreparedStatement s = c.prepareStatement("checkpoint sync")) {
                    s.execute();
                }
            }
            return rewritten;
        }
    }
}
