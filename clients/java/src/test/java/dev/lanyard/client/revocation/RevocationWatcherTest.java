package dev.lanyard.client.revocation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import com.sun.net.httpserver.HttpServer;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The watcher against a real server: live events, resumption after a restart, and the CRL fallback. */
class RevocationWatcherTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String API = "spiffe://lanyard.local/ns/shop/sa/api";

    @TempDir
    Path dir;
    RunningServer lanyard;
    Credential web;
    Credential api;
    ScheduledExecutorService scheduler;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.register(WEB);
        lanyard.register(API);
        web = lanyard.bootstrap(WEB);
        api = lanyard.bootstrap(API);
        scheduler = Executors.newSingleThreadScheduledExecutor();
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
        lanyard.close();
    }

    @Test
    void learnsEveryKindOfRevocationAsItHappens() throws Exception {
        try (RevocationWatcher watcher = RevocationWatcher.builder().channel(lanyard.channel(api))
                .scheduler(scheduler).start()) {
            await(watcher::isLive);
            assertThat(watcher.isRevokedIdentity(WEB)).isFalse();

            revoke(RevocationTarget.newBuilder().setJti("token-1").build());
            revoke(RevocationTarget.newBuilder().setSpiffeId(WEB).build());

            // The identity's certificate arrives as its own event, right after the identity's.
            await(() -> watcher.isRevokedJti("token-1") && watcher.isRevokedIdentity(WEB)
                    && watcher.isRevokedSerial(web.leaf().getSerialNumber().toString(16).toUpperCase()));
            assertThat(watcher.isRevokedSerial(api.leaf().getSerialNumber().toString(16))).isFalse();
            assertThat(watcher.isRevokedJti("token-2")).isFalse();

            lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB).build());
            await(() -> !watcher.isRevokedIdentity(WEB));
            assertThat(watcher.isRevokedSerial(web.leaf().getSerialNumber().toString(16))).isTrue();
        }
    }

    /**
     * Loaded once the stream has caught up, and not before: what was revoked before the watcher started
     * is held by then, so a verifier waiting for it cannot let that revocation through.
     */
    @Test
    void isLoadedOnceTheReplayIsApplied() throws Exception {
        revoke(RevocationTarget.newBuilder().setJti("before-start").build());
        try (RevocationWatcher watcher = RevocationWatcher.builder().channel(lanyard.channel(api))
                .scheduler(scheduler).start()) {
            assertThat(watcher.awaitLoaded(Duration.ofSeconds(30))).isTrue();
            assertThat(watcher.isLoaded()).isTrue();
            assertThat(watcher.isRevokedJti("before-start")).isTrue();
        }
    }

    @Test
    void resumesAfterTheServerRestartsAndGetsWhatItMissed() throws Exception {
        ManagedChannel channel = TlsChannels.open(lanyard.server().grpcPort(), lanyard.server().trustBundle(), api);
        try (RevocationWatcher watcher = RevocationWatcher.builder().channel(channel).scheduler(scheduler).start()) {
            await(watcher::isLive);
            revoke(RevocationTarget.newBuilder().setJti("before-restart").build());
            await(() -> watcher.isRevokedJti("before-restart"));

            lanyard.restart();
            revoke(RevocationTarget.newBuilder().setJti("after-restart").build());

            await(() -> watcher.isRevokedJti("after-restart"));
            assertThat(watcher.lastSequence()).isEqualTo(2);
        } finally {
            channel.shutdownNow();
        }
    }

    /**
     * The server comes back on an older copy of its store (its files put back from before the last
     * revocation): it refuses the watcher's sequence (OUT_OF_RANGE), and the watcher replays from 0,
     * still refusing what it learned from the newer store, and hears of what is revoked from then on.
     */
    @Test
    void watchesAgainFromZeroKeepingWhatItHoldsWhenTheServerRefusesItsSequence() throws Exception {
        Path older = dir.resolveSibling(dir.getFileName() + "-older-store");
        revoke(RevocationTarget.newBuilder().setJti("in-both").build());
        lanyard.restart(data -> copyStore(data, older));
        ManagedChannel channel = TlsChannels.open(lanyard.server().grpcPort(), lanyard.server().trustBundle(), api);
        try (RevocationWatcher watcher = RevocationWatcher.builder().channel(channel).scheduler(scheduler).start()) {
            revoke(RevocationTarget.newBuilder().setJti("only-in-the-newer").build());
            await(() -> watcher.isRevokedJti("in-both") && watcher.isRevokedJti("only-in-the-newer"));
            assertThat(watcher.lastSequence()).isEqualTo(2);

            lanyard.restart(data -> copyStore(older, data));
            // refused at 2 (the store's newest is 1), then caught up from 0
            await(() -> watcher.isLive() && watcher.lastSequence() == 1);
            revoke(RevocationTarget.newBuilder().setJti("after").build());

            await(() -> watcher.isRevokedJti("after"));
            assertThat(watcher.isRevokedJti("in-both")).isTrue();
            assertThat(watcher.isRevokedJti("only-in-the-newer")).as("kept: more revoked is the safe side").isTrue();
            assertThat(watcher.lastSequence()).isEqualTo(2);
        } finally {
            channel.shutdownNow();
        }
    }

    /** Replaces the store files (SQLite's or H2's, closed) in {@code to} with those in {@code from}. */
    private static void copyStore(Path from, Path to) throws IOException {
        java.nio.file.Files.createDirectories(to);
        for (Path file : storeFiles(to)) {
            java.nio.file.Files.delete(file);
        }
        for (Path file : storeFiles(from)) {
            java.nio.file.Files.copy(file, to.resolve(file.getFileName()));
        }
    }

    private static List<Path> storeFiles(Path dir) throws IOException {
        try (var files = java.nio.file.Files.list(dir)) {
            return files.filter(RevocationWatcherTest::isStore).toList();
        }
    }

    private static boolean isStore(Path file) {
        return file.getFileName().toString().matches("lanyard\\.(db|mv\\.db)(-wal|-shm)?");
    }

    @Test
    void fallsBackToTheSignedCrlWhileTheStreamIsDown() throws Exception {
        revoke(RevocationTarget.newBuilder().setSerial(web.leaf().getSerialNumber().toString(16)).build());
        URI crl = URI.create(lanyard.httpUrl("/crl"));
        try (ServerSocket nothing = new ServerSocket(0)) {
            // A port where no gRPC server answers: the stream never comes up.
            ManagedChannel dead = TlsChannels.open(nothing.getLocalPort(), lanyard.server().trustBundle(), api);
            try (RevocationWatcher trusting = RevocationWatcher.builder().channel(dead).scheduler(scheduler)
                    .crlFallback(List.of(crl), () -> List.of(web.chain().get(0))).crlRefresh(Duration.ofSeconds(1))
                    .start();
                    RevocationWatcher foreign = RevocationWatcher.builder().channel(dead).scheduler(scheduler)
                            .crlFallback(List.of(crl), () -> List.of(api.leaf())).start()) {
                await(() -> trusting.isRevokedSerial(web.leaf().getSerialNumber().toString(16)));
                assertThat(trusting.isLive()).isFalse();
                assertThat(trusting.isRevokedSerial(api.leaf().getSerialNumber().toString(16))).isFalse();
                // A CRL not signed by the issuing CAs it was given is not believed.
                Thread.sleep(1_500);
                assertThat(foreign.isRevokedSerial(web.leaf().getSerialNumber().toString(16))).isFalse();
            } finally {
                dead.shutdownNow();
            }
        }
    }

    /** The CRL endpoint serves Lanyard's signed CRL, then fails: what the good CRL listed stays revoked. */
    @Test
    void keepsWhatAGoodCrlListedWhenALaterFetchFails() throws Exception {
        revoke(RevocationTarget.newBuilder().setSerial(web.leaf().getSerialNumber().toString(16)).build());
        byte[] signed = lanyard.crl().getEncoded();
        AtomicBoolean up = new AtomicBoolean(true);
        AtomicInteger failed = new AtomicInteger();
        assertKeepsWhatAGoodCrlListed(exchange -> {
            if (up.get()) {
                exchange.sendResponseHeaders(200, signed.length);
                exchange.getResponseBody().write(signed);
            } else {
                exchange.sendResponseHeaders(503, -1);
                failed.incrementAndGet();
            }
            exchange.close();
        }, () -> up.set(false), () -> failed.get() >= 2, () -> { });
    }

    /**
     * The CRL endpoint serves the good CRL, then sends its headers and stalls the body: the fetch ends
     * within its timeout (the next one is asked for), and what the good CRL listed stays revoked.
     */
    @Test
    void aCrlWhoseBodyStallsFailsWithinTheTimeoutAndKeepsWhatWasListed() throws Exception {
        revoke(RevocationTarget.newBuilder().setSerial(web.leaf().getSerialNumber().toString(16)).build());
        byte[] signed = lanyard.crl().getEncoded();
        AtomicBoolean stall = new AtomicBoolean();
        AtomicInteger stalled = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        assertKeepsWhatAGoodCrlListed(exchange -> {
            if (!stall.get()) {
                exchange.sendResponseHeaders(200, signed.length);
                exchange.getResponseBody().write(signed);
            } else {
                stalled.incrementAndGet();
                exchange.sendResponseHeaders(200, signed.length);
                exchange.getResponseBody().write(signed, 0, signed.length / 2);
                exchange.getResponseBody().flush();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            exchange.close();
        }, () -> stall.set(true), () -> stalled.get() >= 2, release::countDown);
    }

    /** A CRL body over the cap is refused and not read to its end; what the good CRL listed stays revoked. */
    @Test
    void aCrlOverTheSizeCapIsRefusedUnreadAndKeepsWhatWasListed() throws Exception {
        revoke(RevocationTarget.newBuilder().setSerial(web.leaf().getSerialNumber().toString(16)).build());
        byte[] signed = lanyard.crl().getEncoded();
        AtomicBoolean huge = new AtomicBoolean();
        AtomicInteger cutOff = new AtomicInteger();
        assertKeepsWhatAGoodCrlListed(exchange -> {
            if (!huge.get()) {
                exchange.sendResponseHeaders(200, signed.length);
                exchange.getResponseBody().write(signed);
            } else {
                exchange.sendResponseHeaders(200, 0); // chunked: the client learns the size only by reading
                byte[] chunk = new byte[64 * 1024];
                try {
                    for (long sent = 0; sent < 4L * RevocationWatcher.CRL_MAX_BYTES; sent += chunk.length) {
                        exchange.getResponseBody().write(chunk);
                    }
                } catch (IOException e) {
                    cutOff.incrementAndGet(); // the client closed the connection before the end
                }
            }
            exchange.close();
        }, () -> huge.set(true), () -> cutOff.get() >= 2, () -> { });
    }

    private void assertKeepsWhatAGoodCrlListed(com.sun.net.httpserver.HttpHandler handler, Runnable spoil,
            BooleanSupplier spoiledTwice, Runnable cleanUp) throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        http.setExecutor(Executors.newCachedThreadPool()); // a stalled exchange holds only its own thread
        http.createContext("/crl", handler);
        http.start();
        URI crl = URI.create("http://127.0.0.1:" + http.getAddress().getPort() + "/crl");
        String serial = web.leaf().getSerialNumber().toString(16);
        try (ServerSocket nothing = new ServerSocket(0)) {
            ManagedChannel dead = TlsChannels.open(nothing.getLocalPort(), lanyard.server().trustBundle(), api);
            try (RevocationWatcher watcher = RevocationWatcher.builder().channel(dead).scheduler(scheduler)
                    .crlFallback(List.of(crl), () -> List.of(web.chain().get(0))).crlRefresh(Duration.ofMillis(100))
                    .start()) {
                await(() -> watcher.isRevokedSerial(serial));

                spoil.run();
                // a second spoiled fetch is asked for only once the first has ended
                await(spoiledTwice, RevocationWatcher.CRL_TIMEOUT.multipliedBy(3));

                assertThat(watcher.isRevokedSerial(serial)).as("a failed fetch revokes nothing less").isTrue();
                assertThat(watcher.isRevokedSerial(api.leaf().getSerialNumber().toString(16))).isFalse();
            } finally {
                dead.shutdownNow();
                cleanUp.run();
                http.stop(0);
            }
        }
    }

    private void revoke(RevocationTarget target) {
        lanyard.revocations().revoke(RevokeRequest.newBuilder().setTarget(target)
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        await(condition, Duration.ofSeconds(15));
    }

    private static void await(BooleanSupplier condition, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within " + within).isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
