package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc.max-connections and grpc.max-connections-per-source over real TLS: gRPC clients on distinct
 * loopback source addresses (127.0.0.x), a server that allows three connections, two from one address.
 */
class GrpcConnectionCapTest {

    @TempDir
    Path dir;
    RunningServer lanyard;
    final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("grpc.max-connections", "3", "grpc.max-connections-per-source", "2"));
    }

    @AfterEach
    void stop() {
        channels.forEach(ManagedChannel::shutdownNow);
        lanyard.close();
    }

    @Test
    void oneSourceHoldsAtMostItsShareAndAllSourcesTogetherAtMostTheTotal() throws Exception {
        try (LogCapture logs = new LogCapture()) {
            ManagedChannel first = from("127.0.0.1");
            assertServed(first);
            assertServed(from("127.0.0.1"));
            for (int i = 0; i < 3; i++) {
                assertRefused(from("127.0.0.1"));
            }
            assertServed(from("127.0.0.2")); // another address still gets in: the third and last slot
            assertRefused(from("127.0.0.3"));

            String metrics = scrape();
            assertThat(sample(metrics, "lanyard_grpc_refused_total{limit=\"max-connections-per-source\"}"))
                    .isGreaterThanOrEqualTo(3);
            assertThat(sample(metrics, "lanyard_grpc_refused_total{limit=\"max-connections\"}")).isGreaterThanOrEqualTo(1);
            assertThat(sample(metrics, "lanyard_grpc_connections")).isEqualTo(3);
            assertThat(logs.lines().stream().filter(l -> l.contains("refused a gRPC connection from 127.0.0.1")))
                    .as("one line per source and minute, however many refusals").hasSize(1)
                    .allSatisfy(l -> assertThat(l).contains("grpc.max-connections-per-source=2"));
            assertThat(logs.lines().stream().filter(l -> l.contains("refused a gRPC connection from 127.0.0.3")))
                    .hasSize(1).allSatisfy(l -> assertThat(l).contains("grpc.max-connections=3"));

            // a closed connection frees its slot
            first.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (sample(scrape(), "lanyard_grpc_connections") > 2 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertServed(from("127.0.0.1"));
        }
    }

    /** A channel whose connections come from {@code source}. */
    private ManagedChannel from(String source) {
        ManagedChannel channel = NettyChannelBuilder.forAddress(new InetSocketAddress("127.0.0.1",
                        lanyard.server().grpcPort()), TlsChannels.credentials(lanyard.server().trustBundle(), null))
                .localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
                    @Override
                    public java.net.SocketAddress createSocketAddress(java.net.SocketAddress remote,
                            io.grpc.Attributes attrs) {
                        return new InetSocketAddress(source, 0);
                    }
                }).build();
        channels.add(channel);
        return channel;
    }

    private static void assertServed(ManagedChannel channel) {
        assertThat(TrustBundleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .getTrustBundle(GetTrustBundleRequest.getDefaultInstance()).getX509AuthoritiesCount()).isEqualTo(1);
    }

    private static void assertRefused(ManagedChannel channel) {
        assertThatThrownBy(() -> TrustBundleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .getTrustBundle(GetTrustBundleRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
        channel.shutdownNow(); // no reconnection attempts in the background
    }

    private String scrape() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics"))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private static double sample(String exposition, String series) {
        return exposition.lines().filter(line -> line.startsWith(series + " ")).mapToDouble(line ->
                Double.parseDouble(line.substring(series.length() + 1).trim())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + series + " in /metrics"));
    }
}
