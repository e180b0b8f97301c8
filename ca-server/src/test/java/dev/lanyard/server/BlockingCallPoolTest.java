package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.util.concurrent.ListenableFuture;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.Registration;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * grpc.max-blocking-calls and grpc.max-queued-blocking-calls over real TLS: a server with one thread for calls
 * that may block and room for one more to wait. The test holds the database (an exclusive SQLite lock beside
 * the server), so admin writes wait on it: the first holds the thread, the second waits, the third is refused
 * at once with RESOURCE_EXHAUSTED; once the database is back the two finish and the server serves on.
 */
class BlockingCallPoolTest {

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("grpc.max-blocking-calls", "1", "grpc.max-queued-blocking-calls", "1"));
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aCallFindingThePoolAndItsQueueFullIsRefusedAndTheOthersFinish() throws Exception {
        ManagedChannel admin = lanyard.channel(lanyard.adminCredential());
        AdminServiceGrpc.AdminServiceFutureStub async = AdminServiceGrpc.newFutureStub(admin)
                .withDeadlineAfter(60, TimeUnit.SECONDS);
        ListenableFuture<Registration> first;
        ListenableFuture<Registration> second;
        try (LogCapture logs = new LogCapture();
                Connection holder = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("lanyard.db"));
                Statement lock = holder.createStatement()) {
            lock.execute("begin exclusive");
            first = async.createRegistration(registration("spiffe://lanyard.local/first"));
            Thread.sleep(500); // the first takes the one thread (and waits for the database) ...
            second = async.createRegistration(registration("spiffe://lanyard.local/second"));
            Thread.sleep(500); // ... the second waits for the thread
            long started = System.nanoTime();
            assertThatThrownBy(() -> AdminServiceGrpc.newBlockingStub(admin).withDeadlineAfter(5, TimeUnit.SECONDS)
                    .createRegistration(registration("spiffe://lanyard.local/third")))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                        assertThat(e.getStatus().getDescription()).contains("grpc.max-blocking-calls=1")
                                .contains("grpc.max-queued-blocking-calls=1");
                    });
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).as("refused at once").isLessThan(3000);
            assertThat(first.isDone()).as("still held by the database").isFalse();
            assertThat(second.isDone()).isFalse();
            assertThat(logs.lines().stream().filter(l -> l.contains("refused a call to")))
                    .hasSize(1).allSatisfy(l -> assertThat(l).contains("grpc.max-queued-blocking-calls=1"));
            lock.execute("rollback");
        }
        assertThat(first.get(30, TimeUnit.SECONDS).getSpiffeId()).isEqualTo("spiffe://lanyard.local/first");
        assertThat(second.get(30, TimeUnit.SECONDS).getSpiffeId()).isEqualTo("spiffe://lanyard.local/second");

        lanyard.register("spiffe://lanyard.local/after"); // the pool serves normally again
        assertThat(sample(scrape(), "lanyard_grpc_refused_total{limit=\"max-queued-blocking-calls\"}")).isEqualTo(1);
        // audited in the background (the database was held)
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (lanyard.server().audit().recent(50).stream().noneMatch(e -> e.action().equals("rpc.max-queued-blocking-calls"))
                && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(lanyard.server().audit().recent(50)).filteredOn(e -> e.action().equals("rpc.max-queued-blocking-calls"))
                .singleElement().satisfies(e -> {
                    assertThat(e.outcome()).isEqualTo(dev.lanyard.audit.AuditEvent.Outcome.REFUSED);
                    assertThat(e.actor()).isEqualTo("address 127.0.0.1");
                    assertThat(e.reason()).contains("grpc.max-blocking-calls=1");
                });
    }

    private static CreateRegistrationRequest registration(String spiffeId) {
        return CreateRegistrationRequest.newBuilder().setSpiffeId(spiffeId).build();
    }

    private String scrape() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics"))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private static double sample(String exposition, String series) {
        return exposition.lines().filter(line -> line.startsWith(series + " ")).mapToDouble(line ->
                Double.parseDouble(line.substring(series.length() + 1).trim())).findFirst().orElse(0);
    }
}
