package dev.lanyard.client.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A scheduler on a test clock: tasks run when the test calls {@link #runDue()} after moving the
 * clock, on the test's thread, in due order. Behaves like a single-threaded scheduled executor
 * otherwise (cancellation, futures, periodic tasks).
 */
public final class FakeScheduler extends AbstractExecutorService implements ScheduledExecutorService {

    private final Clock clock;
    private final List<Task<?>> tasks = new ArrayList<>();
    private long sequence;
    private boolean shutdown;

    public FakeScheduler(Clock clock) {
        this.clock = clock;
    }

    private final class Task<V> extends FutureTask<V> implements ScheduledFuture<V> {
        private Instant due;
        private final Duration period;
        private final long order = sequence++;

        Task(Callable<V> callable, Instant due, Duration period) {
            super(callable);
            this.due = due;
            this.period = period;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(Duration.between(clock.instant(), due));
        }

        @Override
        public int compareTo(Delayed other) {
            return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
        }

        @Override
        public void run() {
            if (period == null) {
                super.run();
            } else if (runAndReset()) {
                due = due.plus(period);
                synchronized (FakeScheduler.this) {
                    tasks.add(this);
                }
            }
        }
    }

    /** Runs every task due at the clock's now (including ones those tasks schedule for now); returns how many ran. */
    public int runDue() {
        int ran = 0;
        while (true) {
            Task<?> next;
            synchronized (this) {
                tasks.removeIf(Task::isCancelled);
                next = tasks.stream().filter(t -> !t.due.isAfter(clock.instant()))
                        .min(Comparator.<Task<?>, Instant>comparing(t -> t.due).thenComparingLong(t -> t.order))
                        .orElse(null);
                if (next == null) {
                    return ran;
                }
                tasks.remove(next);
            }
            next.run();
            ran++;
        }
    }

    /** How long until the earliest pending task, or null when none is pending. */
    public synchronized Duration nextDelay() {
        tasks.removeIf(Task::isCancelled);
        return tasks.stream().map(t -> Duration.between(clock.instant(), t.due)).min(Comparator.naturalOrder())
                .orElse(null);
    }

    public synchronized int pending() {
        tasks.removeIf(Task::isCancelled);
        return tasks.size();
    }

    private synchronized <V> Task<V> add(Callable<V> callable, long delay, TimeUnit unit, Duration period) {
        if (shutdown) {
            throw new RejectedExecutionException("the scheduler is shut down");
        }
        Task<V> task = new Task<>(callable, clock.instant().plus(Duration.of(delay, unit.toChronoUnit())), period);
        tasks.add(task);
        return task;
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return add(() -> {
            command.run();
            return null;
        }, delay, unit, null);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        return add(callable, delay, unit, null);
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        return add(() -> {
            command.run();
            return null;
        }, initialDelay, unit, Duration.of(period, unit.toChronoUnit()));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        return scheduleAtFixedRate(command, initialDelay, delay, unit);
    }

    @Override
    public void execute(Runnable command) {
        schedule(command, 0, TimeUnit.MILLISECONDS);
    }

    @Override
    public synchronized void shutdown() {
        shutdown = true;
    }

    @Override
    public synchronized List<Runnable> shutdownNow() {
        shutdown = true;
        List<Runnable> pending = new ArrayList<>(tasks);
        tasks.clear();
        return pending;
    }

    @Override
    public synchronized boolean isShutdown() {
        return shutdown;
    }

    @Override
    public synchronized boolean isTerminated() {
        return shutdown && tasks.isEmpty();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return isTerminated();
    }
}
