package dev.lanyard.server;

import dev.lanyard.publication.HttpPublisher;
import dev.lanyard.replica.StoreReachability;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Readiness, for load balancers: /readyz and the gRPC health service's overall status ("") follow
 * whether the store answers. Without it this replica can only refuse renewals and tokens UNAVAILABLE,
 * so traffic belongs elsewhere; but its process is sound, so liveness (/healthz) does not follow the
 * store: restarting it would not bring PostgreSQL back, and it is ready again as soon as it answers.
 */
final class Readiness implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Readiness.class);
    /** How often the gRPC status is brought up to date: no query, a look at what the change feed saw. */
    private static final Duration TICK = Duration.ofMillis(500);
    private static final byte[] READY = "ready\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NOT_READY = "not ready: the database does not answer\n"
            .getBytes(StandardCharsets.US_ASCII);

    private final StoreReachability store;
    private final HealthStatusManager health;
    private final ScheduledExecutorService ticker;
    /** What the gRPC health service says (null before start); the ticker's thread only, after start. */
    private Boolean serving;

    /** @param ticker a thread of its own: the server's scheduler may wait on the database that is away */
    Readiness(StoreReachability store, HealthStatusManager health, ScheduledExecutorService ticker) {
        this.store = store;
        this.health = health;
        this.ticker = ticker;
    }

    /** The server serves: SERVING (if the store answers) on return, and kept up to date from now on. */
    void start() {
        update();
        ticker.scheduleWithFixedDelay(this::update, TICK.toMillis(), TICK.toMillis(), TimeUnit.MILLISECONDS);
    }

    public boolean ready() {
        return store.reachable();
    }

    /** /readyz: 200 while the store answers, else 503. */
    HttpPublisher.Document document() {
        return ready() ? new HttpPublisher.Document("text/plain", READY, Duration.ZERO)
                : new HttpPublisher.Document("text/plain", NOT_READY, Duration.ZERO, 503);
    }

    private void update() {
        boolean ready = ready();
        if (serving != null && ready == serving) {
            return;
        }
        health.setStatus("", ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        if (serving == null) {
            serving = ready;
            return;
        }
        if (ready) {
            LOG.info("ready: the database answers (gRPC health SERVING, /readyz 200)");
        } else {
            LOG.warn("not ready: the database does not answer (gRPC health NOT_SERVING, /readyz 503)");
        }
        serving = ready;
    }

    @Override
    public void close() {
        ticker.shutdownNow();
    }
}
