package dev.lanyard.rpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcRevocationRepository;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import dev.lanyard.v1.WatchTrustBundleRequest;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A handler that throws, or fails with an exception that is not a status, answers INTERNAL with a
 * correlation id that the log and a FAILED audit record carry too; never UNKNOWN, never the message.
 */
class InternalFailureTest {

    @TempDir
    Path dir;

    @Test
    void anUnexpectedExceptionBecomesInternalWithOneReferenceInAnswerLogAndAudit() throws Exception {
        Clock clock = Clock.systemUTC();
        try (Database db = Database.h2File(dir); LogCapture log = new LogCapture()) {
            JdbcAuditLog audit = new JdbcAuditLog(db.dataSource());
            RequestChain chain = new RequestChain(
                    new ClientCertificateVerifier(List::of, "lanyard.local", CryptoProviders.bouncyCastleOnly().primary(), clock),
                    new RevocationRegistry(new JdbcRevocationRepository(db.dataSource()), clock),
                    AccessPolicy.builder(new dev.lanyard.registration.AdminIds(Set.of()), id -> false, serial -> false)
                            .service(TrustBundleServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ANYONE).build(),
                    new RequestChain.Limits(100, 100, 100, 100), audit,
                    new LanyardMetrics(() -> 0, List::of, () -> Duration.ZERO, () -> false), clock);
            Server server = NettyServerBuilder.forAddress(new java.net.InetSocketAddress("127.0.0.1", 0))
                    .addService(new TrustBundleServiceGrpc.TrustBundleServiceImplBase() {
                        @Override
                        public void getTrustBundle(GetTrustBundleRequest request, StreamObserver<TrustBundle> response) {
                            throw new IllegalStateException("database password s3cret was rejected");
                        }

                        @Override
                        public void watchTrustBundle(WatchTrustBundleRequest request, StreamObserver<TrustBundle> response) {
                            response.onError(new IllegalArgumentException("not a status: s3cret"));
                        }
                    })
                    .intercept(chain).build().start();
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
            try {
                var stub = TrustBundleServiceGrpc.newBlockingStub(channel);
                for (Runnable call : List.<Runnable>of(
                        () -> stub.getTrustBundle(GetTrustBundleRequest.getDefaultInstance()),
                        () -> stub.watchTrustBundle(WatchTrustBundleRequest.getDefaultInstance()).hasNext())) {
                    StatusRuntimeException e = (StatusRuntimeException) catchThrown(call);
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
                    assertThat(e.getStatus().getDescription()).doesNotContain("s3cret");
                    Matcher reference = Pattern.compile("reference ([0-9a-f]{16})").matcher(e.getStatus().getDescription());
                    assertThat(reference.find()).isTrue();
                    String id = reference.group(1);
                    assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains(id));
                    assertThat(audit.recent(10)).anySatisfy(a -> {
                        assertThat(a.outcome()).isEqualTo(AuditEvent.Outcome.FAILED);
                        assertThat(a.action()).isEqualTo("rpc.failed");
                        assertThat(a.reason()).contains(id).doesNotContain("s3cret");
                    });
                }
            } finally {
                channel.shutdownNow();
                server.shutdownNow();
            }
        }
    }

    private static Throwable catchThrown(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            return e;
        }
        throw new AssertionError("the call did not fail");
    }
}
