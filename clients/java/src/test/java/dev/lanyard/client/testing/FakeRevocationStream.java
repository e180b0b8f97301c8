package dev.lanyard.client.testing;

import dev.lanyard.v1.Heartbeat;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Lanyard's revocation stream as a watcher sees it, for what one Lanyard alone cannot show (revocations
 * a federated trust domain made, passed on tagged with it): the events after the watcher's sequence,
 * then a heartbeat (caught up), then nothing for an hour, on a real gRPC server on loopback.
 */
public final class FakeRevocationStream implements AutoCloseable {

    private final Server server;
    private final ManagedChannel channel;

    public FakeRevocationStream(List<RevocationEvent> events) throws IOException {
        long newest = events.stream().mapToLong(RevocationEvent::getSequence).max().orElse(0);
        RevocationEvent caughtUp = RevocationEvent.newBuilder().setSequence(newest)
                .setHeartbeat(Heartbeat.newBuilder()
                        .setInterval(com.google.protobuf.Duration.newBuilder().setSeconds(3600))).build();
        server = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
                .addService(new RevocationServiceGrpc.RevocationServiceImplBase() {
                    @Override
                    public void watchRevocations(WatchRevocationsRequest request,
                            StreamObserver<RevocationEvent> response) {
                        events.stream().filter(e -> e.getSequence() > request.getAfterSequence())
                                .forEach(response::onNext);
                        response.onNext(caughtUp);
                    }
                }).build().start();
        channel = Grpc.newChannelBuilder("127.0.0.1:" + server.getPort(), InsecureChannelCredentials.create())
                .build();
    }

    /** A channel to the stream, for {@code RevocationWatcher.builder().channel(...)}. */
    public ManagedChannel channel() {
        return channel;
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
