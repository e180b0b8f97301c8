package dev.lanyard.server;

import dev.lanyard.revocation.RevocationEvent;
import dev.lanyard.revocation.RevocationRegistry;
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
 * gaps or repeats, and thousands of watchers cost no thread each (gRPC buffers and writes).
 */
final class RevocationWatchers implements AutoCloseable {

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
    RevocationWatchers(RevocationRegistry registry, ScheduledExecutorService fanout, Duration heartbeat, Clock clock) {
        this.registry = registry;
        this.fanout = fanout;
        this.heartbeat = heartbeat;
        this.clock = clock;
        registry.addListener(batch -> onFanout(() -> broadcast(batch)));
        fanout.scheduleAtFixedRate(this::heartbeatAll, heartbeat.toMillis(), heartbeat.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Replays what the stream missed after {@code after}, then sends every new event and heartbeats. */
    void watch(ServerCallStreamObserver<dev.lanyard.v1.RevocationEvent> stream, long after) {
        Watcher watcher = new Watcher(stream, after);
        stream.setOnCancelHandler(() -> onFanout(() -> remove(watcher)));
        onFanout(() -> {
            for (RevocationEvent event : registry.eventsAfter(after)) {
                send(watcher, event);
            }
            sendHeartbeat(watcher);
            if (!stream.isCancelled()) {
                watchers.add(watcher);
                count.incrementAndGet();
            }
        });
    }

    private void onFanout(Runnable task) {
        try {
            fanout.execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing: every stream is being ended anyway
        }
    }

    /** Streams open now. */
    int count() {
        return count.get();
    }

    private void broadcast(List<RevocationEvent> batch) {
        for (Watcher watcher : new ArrayList<>(watchers)) {
            for (RevocationEvent event : batch) {
                send(watcher, event);
            }
        }
    }

    private void heartbeatAll() {
        for (Watcher watcher : new ArrayList<>(watchers)) {
            sendHeartbeat(watcher);
        }
    }

    private void send(Watcher watcher, RevocationEvent event) {
        if (event.sequence() <= watcher.lastSent) {
            return; // already replayed to this stream
        }
        if (deliver(watcher, RevocationProtos.event(event))) {
            watcher.lastSent = event.sequence();
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
