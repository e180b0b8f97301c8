package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gRPC transport limits from ServerConfig, over real TLS on a server configured with small ones. */
class GrpcLimitsTest {

    @TempDir
    Path dir;
    LanyardServer server;
    ManagedChannel channel;

    @BeforeEach
    void start() throws Exception {
        Properties p = new Properties();
        p.setProperty("trust-domain", "lanyard.local");
        p.setProperty("grpc.host", "127.0.0.1");
        p.setProperty("grpc.port", "0");
        p.setProperty("http.host", "127.0.0.1");
        p.setProperty("http.port", "0");
        p.setProperty("grpc.max-concurrent-streams", "2");
        p.setProperty("grpc.max-message-bytes", "65536");
        p.setProperty("grpc.max-metadata-bytes", "2048");
        server = LanyardServer.start(ServerConfig.fromProperties(p, dir));
        channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), null);
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.close();
    }

    @Test
    void aConnectionHoldsAtMostTheConfiguredNumberOfStreams() throws Exception {
        List<WatchStreamsTest.Watch<TrustBundle>> watches = new ArrayList<>();
        for (int i = 0; i < 3; i++) { // one connection: one of the three waits for a free stream
            watches.add(WatchStreamsTest.watchBundle(channel));
        }
        // Which two are served first is not ours to say: the channel starts calls made before it
        // connected in no fixed order, and a stream sent before the server's SETTINGS arrived is
        // refused and retried behind the others.
        WatchStreamsTest.await(() -> served(watches) == 2, "two streams open");
        Thread.sleep(1_000);
        assertThat(served(watches)).as("a third stream on the same connection").isEqualTo(2);

        // the cap is per connection: another connection is served at once
        ManagedChannel another = TlsChannels.open(server.grpcPort(), server.trustBundle(), null);
        try {
            WatchStreamsTest.Watch<TrustBundle> elsewhere = WatchStreamsTest.watchBundle(another);
            WatchStreamsTest.await(() -> !elsewhere.received.isEmpty(), "a stream on another connection");
            assertThat(served(watches)).as("still waiting on the first connection").isEqualTo(2);
        } finally {
            another.shutdownNow();
        }
    }

    private static long served(List<WatchStreamsTest.Watch<TrustBundle>> watches) {
        return watches.stream().filter(w -> !w.received.isEmpty()).count();
    }

    @Test
    void oversizedMessagesAndMetadataAreRefused() {
        var bundles = TrustBundleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        GetTrustBundleRequest big = GetTrustBundleRequest.newBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(1000, UnknownFieldSet.Field.newBuilder()
                        .addLengthDelimited(ByteString.copyFrom(new byte[100_000])).build()).build()).build();
        assertThatThrownBy(() -> bundles.getTrustBundle(big))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                    assertThat(e.getStatus().getDescription()).contains("65536");
                });

        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("x-padding", Metadata.ASCII_STRING_MARSHALLER), "p".repeat(4096));
        assertThatThrownBy(() -> bundles.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .getTrustBundle(GetTrustBundleRequest.getDefaultInstance()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isNotEqualTo(Status.Code.OK));

        // within the limits, served on the same channel
        assertThat(bundles.getTrustBundle(GetTrustBundleRequest.getDefaultInstance()).getX509AuthoritiesCount())
                .isEqualTo(1);
    }
}
