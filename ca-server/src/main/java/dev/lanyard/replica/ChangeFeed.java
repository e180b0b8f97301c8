package dev.lanyard.replica;

import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcChangeMarkers;
import dev.lanyard.store.StoreException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells this replica what other replicas changed, so keys, contracts, policy and revocations
 * held in memory follow the database within a second. On PostgreSQL it LISTENs to the
 * notifications the tables' triggers send at commit, and also polls every {@code safetyPoll} (a
 * lost notification cannot leave a replica behind for long); when it cannot listen (H2, or the
 * connection dropped) it polls every {@code fastPoll}. A poll is one small query
 * ({@link JdbcChangeMarkers}), and reloads only the topics that moved. What it sees of the database
 * (a poll answered or failed, a listening connection lost) is the server's readiness
 * ({@link StoreReachability}).
 */
public final class ChangeFeed implements AutoCloseable {

    public enum Topic { KEYS, CONTRACTS, POLICY, REVOCATIONS, FEDERATION }

    private static final Logger LOG = LoggerFactory.getLogger(ChangeFeed.class);
    private static final String CHANNEL = "lanyard_changes";
    private static final long SLOW_RELOAD_MILLIS = 250;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);
    private static final Map<String, Topic> TABLES = Map.of("signing_keys", Topic.KEYS, "ca_keys", Topic.KEYS,
            "contract_sets", Topic.CONTRACTS, "policies", Topic.POLICY, "revocation_events", Topic.REVOCATIONS,
            "federations", Topic.FEDERATION);

    private final Database database;
    private final StoreReachability reachability;
    private final JdbcChangeMarkers markers;
    private JdbcChangeMarkers.Markers seen;
    /** Topics whose last reload failed: reloaded at every poll until one succeeds (their markers may not move again). */
    private final EnumSet<Topic> failed = EnumSet.noneOf(Topic.class);
    private final Duration fastPoll;
    private final Duration safetyPoll;
    private final Map<Topic, List<Runnable>> readers = new EnumMap<>(Topic.class);
    private final Thread thread;
    private volatile boolean running = true;
    private final CountDownLatch stopping = new CountDownLatch(1);
    private volatile Connection listening;
    private boolean warned;
    /** Whether the last {@link #listen()} got as far as listening. */
    private boolean listened;
    private boolean pollFailing;

    public ChangeFeed(Database database, Duration fastPoll, Duration safetyPoll, StoreReachability reachability) {
        this.database = database;
        this.reachability = reachability;
        this.markers = new JdbcChangeMarkers(database.dataSource());
        this.fastPoll = fastPoll;
        this.safetyPoll = safetyPoll;
        this.thread = new Thread(this::run, "lanyard-change-feed");
        thread.setDaemon(true);
    }

    /** Runs {@code reload} (on the feed's thread) whenever {@code topic} may have changed. */
    public ChangeFeed on(Topic topic, Runnable reload) {
        readers.computeIfAbsent(topic, t -> new ArrayList<>()).add(reload);
        return this;
    }

    public void start() {
        thread.start();
    }

    /**
     * Stops the feed and waits for a reload in progress to end, so the database can close after it.
     * The thread is woken, never interrupted: interrupting H2 mid-read closes its file under it.
     */
    @Override
    public void close() {
        running = false;
        stopping.countDown();
        Connection c = listening;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException e) {
                // closing anyway
            }
        }
        if (thread.isAlive() && Thread.currentThread() != thread) {
            try {
                thread.join(CLOSE_WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        while (running) {
            if (database.isPostgres()) {
                listenWhileItCan();
            }
            if (!sleep(fastPoll)) {
                return;
            }
            poll();
        }
    }

    /**
     * Listens until the connection fails. One that was listening is opened again at once (a connection
     * cut, or an idle one a firewall dropped, is no outage); a database that refuses a new connection is
     * unreachable at once, without waiting for the poll (which may wait for the pool's connection timeout).
     */
    private void listenWhileItCan() {
        Exception failure = null;
        for (int attempt = 0; attempt < 2 && running; attempt++) {
            listened = false;
            try {
                listen();
                return;
            } catch (SQLException | RuntimeException e) {
                failure = e;
                if (!listened) {
                    if (StoreException.isConnectionLost(e)) {
                        reachability.failed();
                    }
                    break;
                }
            }
        }
        if (running && !warned && failure != null) {
            LOG.warn("cannot LISTEN for changes from other replicas ({}); polling every {} ms until it"
                    + " can again", failure.getMessage(), fastPoll.toMillis());
            warned = true;
        }
    }

    private void listen() throws SQLException {
        try (Connection c = database.openDedicatedConnection()) {
            listening = c;
            try (Statement s = c.createStatement()) {
                s.execute("listen " + CHANNEL);
            }
            listened = true;
            reachability.answered();
            LOG.info("listening for changes from other replicas");
            warned = false;
            reload(EnumSet.allOf(Topic.class)); // whatever changed before we listened
            PGConnection pg = c.unwrap(PGConnection.class);
            while (running) {
                PGNotification[] notifications = pg.getNotifications((int) safetyPoll.toMillis());
                if (notifications == null || notifications.length == 0) {
                    poll();
                    continue;
                }
                reachability.answered();
                LOG.debug("notified of changes: {}", notifications.length);
                Set<Topic> changed = EnumSet.noneOf(Topic.class);
                for (PGNotification n : notifications) {
                    Topic topic = TABLES.get(n.getParameter());
                    if (topic != null) {
                        changed.add(topic);
                    }
                }
                changed.addAll(failed); // notifications may come too often for the poll to retry them
                reload(changed);
            }
        } finally {
            listening = null;
        }
    }

    /** Reloads the topics whose markers moved since the last look (all of them the first time). */
    private void poll() {
        JdbcChangeMarkers.Markers now;
        try {
            now = markers.read();
        } catch (RuntimeException e) {
            reachability.failed();
            if (!pollFailing) { // once per outage: the poll runs four times a second while the database is away
                LOG.error("could not check for changes from other replicas; retrying every {} ms, quietly until it"
                        + " works", fastPoll.toMillis(), e);
                pollFailing = true;
            }
            return;
        }
        reachability.answered();
        if (pollFailing) {
            LOG.info("checking for changes from other replicas again");
            pollFailing = false;
        }
        Set<Topic> moved = EnumSet.copyOf(failed);
        if (seen == null || !seen.keys().equals(now.keys())) {
            moved.add(Topic.KEYS);
        }
        if (seen == null || seen.contracts() != now.contracts()) {
            moved.add(Topic.CONTRACTS);
        }
        if (seen == null || seen.policy() != now.policy()) {
            moved.add(Topic.POLICY);
        }
        if (seen == null || seen.revocations() != now.revocations()) {
            moved.add(Topic.REVOCATIONS);
        }
        if (seen == null || !seen.federation().equals(now.federation())) {
            moved.add(Topic.FEDERATION);
        }
        seen = now;
        reload(moved);
    }

    /**
     * Runs the readers of {@code topics}. A topic whose reader failed is remembered and reloaded at the
     * next poll: the markers that said it moved have been seen, and may not move again for a long time.
     */
    private void reload(Set<Topic> topics) {
        long start = System.nanoTime();
        for (Topic topic : topics) {
            failed.remove(topic);
            for (Runnable reader : readers.getOrDefault(topic, List.of())) {
                if (!running) {
                    return;
                }
                try {
                    reader.run();
                } catch (RuntimeException e) {
                    failed.add(topic);
                    LOG.error("could not reload {} after a change; retrying at the next poll", topic, e);
                }
            }
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        if (millis > SLOW_RELOAD_MILLIS) {
            LOG.warn("reloading {} took {} ms: other replicas' changes reach this one late", topics, millis);
        }
    }

    private boolean sleep(Duration d) {
        try {
            return !stopping.await(d.toMillis(), TimeUnit.MILLISECONDS) && running;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
