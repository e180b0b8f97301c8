package dev.lanyard.replica;

import dev.lanyard.store.Database;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How far this replica's clock is from PostgreSQL's. Replicas decide rotation steps and lease expiry
 * by their own clocks (injected, so tests move them): one whose clock is ahead by the publish lead
 * activates a key the moment another replica prepared it, before verifiers fetched it. Checked at
 * start, so an operator hears of it; the database's clock is the one every replica can compare with.
 */
public final class ClockSkew {

    private static final Logger LOG = LoggerFactory.getLogger(ClockSkew.class);
    static final Duration TOLERANCE = Duration.ofSeconds(2);

    private ClockSkew() {
    }

    /** This clock minus PostgreSQL's (positive: ahead), give or take half the query's round trip; empty elsewhere. */
    static Optional<Duration> measure(Database database, Clock clock) throws SQLException {
        if (!database.isPostgres()) {
            return Optional.empty();
        }
        try (Connection c = database.dataSource().getConnection(); Statement s = c.createStatement()) {
            Instant sent = clock.instant();
            try (ResultSet row = s.executeQuery("select clock_timestamp()")) {
                row.next();
                Instant received = clock.instant();
                Instant theirs = row.getObject(1, OffsetDateTime.class).toInstant();
                Instant ours = sent.plus(Duration.between(sent, received).dividedBy(2));
                return Optional.of(Duration.between(theirs, ours));
            }
        }
    }

    /** Logs a warning when the clocks differ by more than {@link #TOLERANCE}; true if it did. */
    public static boolean warnIfSkewed(Database database, Clock clock) {
        try {
            Optional<Duration> skew = measure(database, clock);
            if (skew.isPresent() && skew.get().abs().compareTo(TOLERANCE) > 0) {
                LOG.warn("this replica's clock is {} ms {} PostgreSQL's: replicas decide key rotation and lease"
                        + " expiry by their own clocks, so a skewed one shortens the publish lead of keys others"
                        + " prepared; synchronize the clocks (NTP)", skew.get().abs().toMillis(),
                        skew.get().isNegative() ? "behind" : "ahead of");
                return true;
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("could not compare this replica's clock with PostgreSQL's: {}", e.getMessage());
        }
        return false;
    }
}
