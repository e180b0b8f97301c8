package dev.lanyard.server;

import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's background schedules on one scheduler thread: a task that fails is logged and runs
 * again at its next time, so one bad run never ends a schedule.
 */
final class RecurringTasks {

    private static final Logger LOG = LoggerFactory.getLogger(RecurringTasks.class);

    private final ScheduledExecutorService scheduler;

    RecurringTasks(ScheduledExecutorService scheduler) {
        this.scheduler = scheduler;
    }

    /** Runs {@code task} after {@code first}, then {@code period} after each run ends. */
    void every(Duration first, Duration period, String what, Runnable task) {
        scheduler.scheduleWithFixedDelay(() -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.error("{} failed; trying again in {}", what, Durations.format(period), e);
            }
        }, first.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Runs {@code task} once after {@code delay}; nothing once the server is closing (a task that
     * reschedules itself, such as the server certificate's renewal, may run into the shutdown).
     */
    void once(Duration delay, Runnable task) {
        try {
            scheduler.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            if (!scheduler.isShutdown()) {
                throw e;
            }
            LOG.debug("not scheduled: the server is closing");
        }
    }
}
