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

    private static final String NOT_READY = "not ready: the database does not answer\n";
    /** One client, its connection kept: a client per look would meet the cap on connections per source (503). */
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

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
                awaitAlive(lanyard, () -> notReady(lanyard) && grpcHealth(health) == ServingStatus.NOT_SERVING);
                assertThat(get(lanyard, "/readyz").headers().firstValue("Cache-Control")).hasValue("no-store");
                // A scrape does not wait for the database: what is read from it is left out.
                assertThat(get(lanyard, "/metrics").body()).contains("lanyard_store_reachable 0")
                        .doesNotContain("lanyard_store_bytes ");
                // Away for a while: still not ready, still alive.
                long until = System.nanoTime() + Duration.ofSeconds(3).toNanos();
                while (System.nanoTime() < until) {
                    assertThat(status(lanyard, "/healthz")).isEqualTo(200);
                    assertThat(notReady(lanyard)).as("/readyz").isTrue();
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

    /** 503 from /readyz itself (the connection cap answers 503 too, with another text). */
    private static boolean notReady(RunningServer lanyard) {
        HttpResponse<String> readyz = get(lanyard, "/readyz");
        return readyz.statusCode() == 503 && readyz.body().equals(NOT_READY);
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
            return HTTP.send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl(path))).timeout(Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
