package dev.lanyard.revocation;

import dev.lanyard.rpc.Protos;
import dev.lanyard.rpc.RevocationProtos;
import dev.lanyard.v1.Heartbeat;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Pushes revocation events to every {@code WatchRevocations} stream. One thread does all the
 * sending — replay, live events and heartbeats — so each stream gets its events in order, without
 * gaps or repeats, and thousands of watchers cost no thread each.
 *
 * <p>Flow control: a stream is only written while gRPC says it is ready (its outbound buffer is
 * under gRPC's threshold). A stream that is not ready — a watcher that does not read, or reads
 * slowly — keeps only the sequence it was sent up to; when it becomes ready again it resumes from
 * the registry, a page at a time. So a watcher that never reads holds a bounded buffer on the
 * server, however many events are published, and cannot slow the others.
 */
public final class RevocationWatchers implements AutoCloseable {

    /** Events read from the registry at a time when a stream catches up. */
    private static final int PAGE = 256;

    /** One stream and the last sequence it was sent. Touched on the fan-out thread only. */
    private static final class Watcher {
        final ServerCallStreamObserver<dev.lanyard.v1.RevocationEvent> stream;
        long lastSent;

        Watcher(ServerCallStreamObserver<dev.lanyard.v1.RevocationEvent> stream, long after) {
            this.stream = stream;
            this.lastSent = after;
        }
    }

    private final RevocationRegistry registry;
    private final ScheduledExecutorService fanout;
    private final Duration heartbeat;
    private final Clock clock;
    private final Set<Watcher> watchers = new HashSet<>();
    private final AtomicInteger count = new AtomicInteger();

    /** @param fanout a single-threaded executor owned by this object from now on */
    public RevocationWatchers(RevocationRegistry registry, ScheduledExecutorService fanout, Duration heartbeat, Clock clock) {
        this.registry = registry;
        this.fanout = fanout;
        this.heartbeat = heartbeat;
        this.clock = clock;
        registry.addListener(batch -> onFanout(this::broadcast));
        fanout.scheduleAtFixedRate(this::heartbeatAll, heartbeat.toMillis(), heartbeat.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Replays what the stream missed after {@code after}, then sends every new event and heartbeats.
     * Called from the service method itself (gRPC takes the ready handler only there).
     */
    public void watch(ServerCallStreamObserver<dev.lanyard.v1.RevocationEvent> stream, long after) {
        Watcher watcher = new Watcher(stream, after);
        stream.setOnCancelHandler(() -> onFanout(() -> remove(watcher)));
        stream.setOnReadyHandler(() -> onFanout(() -> {
            if (watchers.contains(watcher)) {
                catchUp(watcher);
            }
        }));
        onFanout(() -> {
            if (stream.isCancelled()) {
                return;
            }
            watchers.add(watcher);
            count.incrementAndGet();
            catchUp(watcher);
            sendHeartbeat(watcher);
        });
    }

    /**
     * Runs {@code task} on the fan-out thread after what is queued there now: after a batch the
     * registry applied (this object's listener queues its broadcast as the registry calls it) has
     * been offered to every open stream.
     */
    public void afterFanout(Runnable task) {
        onFanout(task);
    }

    private void onFanout(Runnable task) {
        try {
            fanout.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing: every stream is being ended anyway
        }
    }

    /** Streams open now. */
    public int count() {
        return count.get();
    }

    /** Open streams that gRPC cannot take more from now (their client is not reading): a snapshot. */
    public int stalled() {
        return onFanoutAndWait(() -> (int) watchers.stream().filter(w -> !w.stream.isReady()).count());
    }

    /** The lowest sequence any open stream has been sent up to (the registry's newest if none is open). */
    public long oldestSent() {
        return onFanoutAndWait(() -> watchers.stream().mapToLong(w -> w.lastSent).min()
                .orElse(registry.latestSequence()));
    }

    private <T> T onFanoutAndWait(java.util.concurrent.Callable<T> question) {
        try {
            return fanout.submit(question).get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("the revocation fan-out thread did not answer", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void broadcast() {
        for (Watcher watcher : new ArrayList<>(watchers)) {
            catchUp(watcher);
        }
    }

    /** Sends what the stream has not had yet, while it is ready; the ready handler continues later. */
    private void catchUp(Watcher watcher) {
        while (watcher.stream.isReady()) {
            List<RevocationEvent> page = registry.eventsAfter(watcher.lastSent, PAGE);
            if (page.isEmpty()) {
                return;
            }
            for (RevocationEvent event : page) {
                if (!watcher.stream.isReady()) {
                    return;
                }
                if (!deliver(watcher, RevocationProtos.event(event))) {
                    return;
                }
                watcher.lastSent = event.sequence();
            }
        }
    }

    private void heartbeatAll() {
        for (Watcher watcher : new ArrayList<>(watchers)) {
            if (watcher.stream.isReady()) { // a stream that is not reading does not need to hear we are alive
                sendHeartbeat(watcher);
            }
        }
    }

    private void sendHeartbeat(Watcher watcher) {
        deliver(watcher, dev.lanyard.v1.RevocationEvent.newBuilder()
                .setSequence(watcher.lastSent)
                .setHeartbeat(Heartbeat.newBuilder()
                        .setServerTime(Protos.timestamp(clock.instant()))
                        .setInterval(Protos.duration(heartbeat)))
                .build());
    }

    private boolean deliver(Watcher watcher, dev.lanyard.v1.RevocationEvent message) {
        if (watcher.stream.isCancelled()) {
            remove(watcher);
            return false;
        }
        try {
            watcher.stream.onNext(message);
            return true;
        } catch (RuntimeException e) {
            remove(watcher); // the call ended under us
            return false;
        }
    }

    private void remove(Watcher watcher) {
        if (watchers.remove(watcher)) {
            count.decrementAndGet();
        }
    }

    /** Ends every stream (the server is stopping) and the fan-out thread. */
    @Override
    public void close() {
        fanout.execute(() -> {
            for (Watcher watcher : watchers) {
                try {
                    watcher.stream.onCompleted();
                } catch (RuntimeException e) {
                    // already gone
                }
            }
            watchers.clear();
            count.set(0);
        });
        fanout.shutdown();
        try {
            fanout.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
