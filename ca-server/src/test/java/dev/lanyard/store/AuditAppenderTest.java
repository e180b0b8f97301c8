package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Group commit when the database goes away: waiting appends fail together, not one outage each. */
class AuditAppenderTest {

    @TempDir
    Path dir;
    Database db;

    @AfterEach
    void close() {
        db.close();
    }

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void appendsWaitingWhileTheDatabaseGoesDownFailTogetherWithOneAttempt(EmbeddedStore store) throws Exception {
        db = store.open(dir);
        var audit = new JdbcAuditLog(db.dataSource()); // chains on start, before the outage is staged
        var gate = new CountDownLatch(1);
        var down = new AtomicBoolean();
        var connectionRequests = new AtomicInteger();
        var appender = new AuditAppender(new Jdbc(gated(db.dataSource(), gate, down, connectionRequests)));

        List<Throwable> failures = new CopyOnWriteArrayList<>();
        Thread first = append(appender, "first", failures);
        while (connectionRequests.get() == 0) {
            Thread.sleep(5); // the first append holds the lock, waiting for its connection
        }
        List<Thread> waiting = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            waiting.add(append(appender, "waiting-" + i, failures));
        }
        for (Thread t : waiting) {
            while (t.getState() != Thread.State.WAITING) {
                Thread.sleep(5); // queued and parked on the lock
            }
        }
        down.set(true);
        gate.countDown();
        first.join();
        for (Thread t : waiting) {
            t.join();
        }

        assertThat(failures).hasSize(10).allSatisfy(f -> assertThat(f).isInstanceOf(StoreException.class)
                .hasMessageContaining("SQLState 08001"));
        assertThat(connectionRequests.get()).as("the first append's try, then one for the nine waiting together")
                .isEqualTo(2);
        assertThat(audit.recent(10)).isEmpty();
    }

    private static Thread append(AuditAppender appender, String action, List<Throwable> failures) {
        Thread thread = new Thread(() -> {
            try {
                appender.append(new AuditEvent(Instant.now(), "test", action, "t", AuditEvent.Outcome.SUCCESS, ""),
                        c -> null);
            } catch (RuntimeException e) {
                failures.add(e);
            }
        });
        thread.start();
        return thread;
    }

    /** The real data source, except that connections wait for {@code gate} and fail once {@code down}. */
    private static DataSource gated(DataSource real, CountDownLatch gate, AtomicBoolean down, AtomicInteger requests) {
        return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("getConnection")) {
                        requests.incrementAndGet();
                        gate.await();
                        if (down.get()) {
                            throw new SQLException("connection refused", "08001");
                        }
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}
