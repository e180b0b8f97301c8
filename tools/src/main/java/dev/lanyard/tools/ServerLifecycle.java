package dev.lanyard.tools;

import dev.lanyard.server.LanyardServer;
import java.util.concurrent.CountDownLatch;

/** Runs a server until SIGTERM/Ctrl-C, then shuts it down gracefully (grpc-java's HelloWorldServer shape). */
final class ServerLifecycle {

    private ServerLifecycle() {
    }

    static int runUntilStopped(LanyardServer server) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "lanyard-shutdown"));
        server.awaitTermination();
        stopped.await();
        return 0;
    }
}
