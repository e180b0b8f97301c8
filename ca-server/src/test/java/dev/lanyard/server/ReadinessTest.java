package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestPostgres;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Readiness follows the store, liveness does not: while PostgreSQL is away a replica can only answer
 * UNAVAILABLE, so load balancers must send its traffic elsewhere, but restarting it would not help.
 */
class ReadinessTest {

    @TempDir
    Path dir;

    @Test
    void whilePostgresIsAwayTheServerIsNotReadyButAlive() throws Exception {
        TestPostgres postgres = TestPostgres.get();
        KeyEncryptionKey.generateFile(dir.resolve("kek"), new SecureRandom());
        try (RunningServer lanyard = RunningServer.start(dir.resolve("a"), Map.of("database.url",
                postgres.newDatabase(), "database.user", postgres.user(), "kek.file", dir.resolve("kek").toString()))) {
            var health = HealthGrpc.newBlockingStub(lanyard.channel(null));
            assertThat(status(lanyard, "/readyz")).isEqualTo(200);
            assertThat(grpcHealth(health)).isEqualTo(ServingStatus.SERVING);
            assertThat(get(lanyard, "/metrics").body()).contains("lanyard_store_reachable 1");

            postgres.pause();
            try {
                awaitAlive(lanyard, () -> status(lanyard, "/readyz") == 503
                        && grpcHealth(health) == ServingStatus.NOT_SERVING);
                assertThat(get(lanyard, "/readyz").body()).isEqualTo("not ready: the database does not answer\n");
                assertThat(get(lanyard, "/readyz").headers().firstValue("Cache-Control")).hasValue("no-store");
                assertThat(get(lanyard, "/metrics").body()).contains("lanyard_store_reachable 0");
                // Away for a while: still not ready, still alive.
                long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
                while (System.nanoTime() < until) {
                    assertThat(status(lanyard, "/healthz")).isEqualTo(200);
                    assertThat(status(lanyard, "/readyz")).isEqualTo(503);
                    Thread.sleep(200);
                }
            } finally {
                postgres.resume();
            }

            awaitAlive(lanyard, () -> status(lanyard, "/readyz") == 200 && grpcHealth(health) == ServingStatus.SERVING);
            assertThat(get(lanyard, "/readyz").body()).isEqualTo("ready\n");
            assertThat(get(lanyard, "/metrics").body()).contains("lanyard_store_reachable 1");
        }
    }

    private static ServingStatus grpcHealth(HealthGrpc.HealthBlockingStub health) {
        try {
            return health.withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance())
                    .getStatus();
        } catch (StatusRuntimeException e) {
            throw new AssertionError("the health service must answer while the database is away: " + e.getStatus(), e);
        }
    }

    /** Waits for {@code condition}, with /healthz answering 200 at every look. */
    private static void awaitAlive(RunningServer lanyard, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(45).toNanos();
        while (true) {
            assertThat(status(lanyard, "/healthz")).as("liveness").isEqualTo(200);
            if (condition.getAsBoolean()) {
                return;
            }
            assertThat(System.nanoTime()).as("within 45 s").isLessThan(deadline);
            Thread.sleep(100);
        }
    }

    private static int status(RunningServer lanyard, String path) {
        return get(lanyard, path).statusCode();
    }

    private static HttpResponse<String> get(RunningServer lanyard, String path) {
        try {
            return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build().send(HttpRequest.newBuilder(
                    URI.create(lanyard.httpUrl(path))).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
