package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.io.PrintWriter;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Revocation propagation: N watchers on a running server, then token revocations one at a time;
 * for each, the time from the Revoke call's return (and from its start) to every watcher's receipt.
 */
@Command(name = "revocations", description = "Propagation time from Revoke to N watchers over WatchRevocations.")
final class BenchRevocations implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Mixin
    AdminOptions admin;
    @Option(names = "--watchers", defaultValue = "2000", description = "concurrent streams (default: ${DEFAULT-VALUE})")
    int watchers;
    @Option(names = "--channels", defaultValue = "8", description = "connections they share (default: ${DEFAULT-VALUE})")
    int channels;
    @Option(names = "--revocations", defaultValue = "20", description = "revocations to time (default: ${DEFAULT-VALUE})")
    int revocations;

    /** Why the server refused a watch stream (the per-identity cap), if it did. */
    private final AtomicReference<String> refused = new AtomicReference<>();

    /** Receipt times (nanoTime) of the revocation being timed, by watcher. */
    private final AtomicReference<Round> round = new AtomicReference<>();

    private record Round(String jti, long[] receivedAt, CountDownLatch done) {
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Credential workload = BenchCommand.bootstrapBenchIdentity(admin);
        List<ManagedChannel> open = new ArrayList<>();
        for (int c = 0; c < channels; c++) {
            open.add(Channels.open(admin.server, workload.bundle(), workload));
        }
        CountDownLatch caughtUp = new CountDownLatch(watchers);
        for (int w = 0; w < watchers; w++) {
            watch(open.get(w % channels), w, caughtUp);
        }
        if (!caughtUp.await(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException(caughtUp.getCount() + " watchers never caught up");
        }
        if (refused.get() != null) {
            throw new IllegalStateException("the server refused a watch stream: " + refused.get()
                    + "; all the bench's watchers are one identity, so start the bench server with"
                    + " grpc.max-watch-streams-per-identity at least --watchers (" + watchers + ")");
        }
        out.printf("%,d watchers on %d connections caught up%n", watchers, channels);
        out.flush();

        Credential adminCredential = admin.credential();
        ManagedChannel adminChannel = Channels.open(admin.server, adminCredential.bundle(), adminCredential);
        open.add(adminChannel);
        var revocationService = RevocationServiceGrpc.newBlockingStub(adminChannel);
        // One revocation first, untimed, so the admin connection is up and warm.
        revocationService.revoke(RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setJti(
                "bench-warm-up-" + System.nanoTime())).build());
        SecureRandom random = new SecureRandom();
        long[] fromReturn = new long[revocations * watchers];
        long[] fromStart = new long[revocations * watchers];
        int n = 0;
        int beforeReturn = 0;
        try {
            for (int r = 0; r < revocations; r++) {
                byte[] id = new byte[12];
                random.nextBytes(id);
                Round current = new Round("bench-" + HexFormat.of().formatHex(id), new long[watchers],
                        new CountDownLatch(watchers));
                round.set(current);
                long start = System.nanoTime();
                revocationService.withDeadlineAfter(30, TimeUnit.SECONDS).revoke(RevokeRequest.newBuilder()
                        .setTarget(RevocationTarget.newBuilder().setJti(current.jti())).build());
                long returned = System.nanoTime();
                if (!current.done().await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException(current.done().getCount() + " watchers missed revocation " + r);
                }
                for (long at : current.receivedAt()) {
                    fromStart[n] = at - start;
                    fromReturn[n] = Math.max(0, at - returned);
                    if (at < returned) {
                        beforeReturn++;
                    }
                    n++;
                }
                Thread.sleep(200);
            }
        } finally {
            open.forEach(ManagedChannel::shutdownNow);
        }
        Arrays.sort(fromReturn);
        Arrays.sort(fromStart);
        out.printf("%d revocations x %,d watchers = %,d deliveries%n", revocations, watchers, n);
        out.printf("  from Revoke's return: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%,d arrived before the call returned)%n",
                ms(fromReturn, 0.50), ms(fromReturn, 0.99), fromReturn[n - 1] / 1e6, beforeReturn);
        out.printf("  from Revoke's start:  p50 %.2f ms, p99 %.2f ms, max %.2f ms%n",
                ms(fromStart, 0.50), ms(fromStart, 0.99), fromStart[n - 1] / 1e6);
        out.flush();
        return 0;
    }

    private void watch(ManagedChannel channel, int index, CountDownLatch caughtUp) {
        RevocationServiceGrpc.newStub(channel).watchRevocations(
                WatchRevocationsRequest.newBuilder().build(), new StreamObserver<>() {
                    private boolean ready;

                    @Override
                    public void onNext(RevocationEvent event) {
                        if (event.hasHeartbeat() && !ready) {
                            ready = true;
                            caughtUp.countDown();
                        }
                        Round current = round.get();
                        if (current != null && event.hasRevoked() && event.getRevoked().getTarget().getJti().equals(current.jti())) {
                            current.receivedAt()[index] = System.nanoTime();
                            current.done().countDown();
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        // the bench ends by closing the channels; before it is caught up, a refusal ends the bench
                        if (!ready && refused.compareAndSet(null, io.grpc.Status.fromThrowable(t).toString())) {
                            while (caughtUp.getCount() > 0) {
                                caughtUp.countDown();
                            }
                        }
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
    }

    private static double ms(long[] sorted, double quantile) {
        return sorted[(int) Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))] / 1e6;
    }
}
