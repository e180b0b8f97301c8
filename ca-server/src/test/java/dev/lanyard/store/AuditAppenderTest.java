package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Group commit: appends that wait and appends that do not share transactions; when the database goes
 * away, waiting appends fail together, not one outage each.
 */
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

    /** A refusal a change makes, as a checked exception (a gRPC StatusException, say). */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void aChangeAndItsAuditRecordAreStoredTogetherOrNotAtAll(EmbeddedStore store) throws Exception {
        db = store.open(dir);
        var audit = new JdbcAuditLog(db.dataSource());
        var registrations = new JdbcRegistrationRepository(db.dataSource());
        SpiffeId kept = SpiffeId.parse("spiffe://example.org/kept");
        SpiffeId refused = SpiffeId.parse("spiffe://example.org/refused");
        SpiffeId unaudited = SpiffeId.parse("spiffe://example.org/unaudited");

        assertThat(audit.<Boolean, Refused>recordWith(event("registration.create", "admin"),
                () -> registrations.create(registration(kept)))).isTrue();
        assertThat(registrations.find(kept)).isPresent();

        // The change refuses after writing: its write is rolled back and no record is written.
        assertThatThrownBy(() -> audit.<Boolean, Refused>recordWith(event("registration.create", "admin"), () -> {
            registrations.create(registration(refused));
            throw new Refused("no");
        })).isInstanceOf(Refused.class).hasMessage("no");
        assertThat(registrations.find(refused)).isEmpty();

        // The record cannot be written (the database refuses it): the change is not kept either.
        try (var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            s.execute(store == EmbeddedStore.SQLITE
                    ? "create trigger refuse_test_actor before insert on audit_events when new.actor = 'refused-actor'"
                            + " begin select raise(abort, 'refused by the test'); end"
                    : "alter table audit_events add constraint refuse_test_actor check (actor <> 'refused-actor')");
        }
        assertThatThrownBy(() -> audit.<Boolean, Refused>recordWith(event("registration.create", "refused-actor"),
                () -> registrations.create(registration(unaudited)))).isInstanceOf(StoreException.class);
        assertThat(registrations.find(unaudited)).isEmpty();

        List<AuditEvent> recorded = audit.recent(10);
        assertThat(recorded).extracting(AuditEvent::action).containsOnlyOnce("registration.create");
        assertThat(audit.commits()).as("the kept change's commit alone: rolled-back ones are not counted").isOne();
        assertThat(audit.appended()).isOne();
        var chain = new dev.lanyard.audit.AuditChain.Verifier();
        for (var record : audit.list(dev.lanyard.audit.AuditQuery.all(0, 100))) {
            assertThat(chain.accept(record)).as("the chain stays whole").isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void appendsThatDoNotWaitCompleteOnceStoredAndOneBadAppendFailsAlone(EmbeddedStore store) throws Exception {
        db = store.open(dir);
        var audit = new JdbcAuditLog(db.dataSource());
        var appender = new AuditAppender(new Jdbc(db.dataSource()));
        int callers = 4;
        int each = 50;
        List<CompletableFuture<Boolean>> storedWhenDone = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < callers; t++) {
            int caller = t;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < each; i++) {
                    String target = caller + "-" + i;
                    AuditEvent event = new AuditEvent(Instant.now(), "test", "async", target,
                            AuditEvent.Outcome.SUCCESS, "");
                    if (i % 10 == 9) {
                        appender.append(event, c -> null); // one that waits, among those that do not
                        continue;
                    }
                    Jdbc.Work<?> work = caller == 0 && i == 20
                            ? c -> {
                                throw new SQLException("value too long", "22001"); // this append's own data
                            }
                            : c -> null;
                    // When the future completes, the record is there to read.
                    storedWhenDone.add(appender.appendAsync(event, work).thenApply(done -> audit.list(
                            new AuditQuery(0, false, 10, Optional.empty(), Optional.empty(), Optional.of(target),
                                    Optional.empty(), Optional.empty(), Optional.empty())).size() == 1));
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }

        List<Throwable> failures = new ArrayList<>();
        int stored = 0;
        for (CompletableFuture<Boolean> f : storedWhenDone) {
            try {
                assertThat(f.get(30, TimeUnit.SECONDS)).as("stored before its future completed").isTrue();
                stored++;
            } catch (ExecutionException e) {
                failures.add(e.getCause());
            }
        }
        assertThat(failures).singleElement().isInstanceOf(StoreException.class);
        assertThat(stored).isEqualTo(callers * (each - each / 10) - 1);
        assertThat(appender.appended()).as("every stored record counted once, the failed one not")
                .isEqualTo(callers * each - 1);
        assertThat(appender.commits()).as("one commit or more per record, never more commits than records")
                .isBetween(1L, appender.appended());
        List<dev.lanyard.audit.AuditRecord> records = audit.list(AuditQuery.all(0, 1000));
        assertThat(records).hasSize(callers * each - 1);
        assertThat(records).extracting(r -> r.event().target()).doesNotContain("0-20").doesNotHaveDuplicates();
        var chain = new dev.lanyard.audit.AuditChain.Verifier();
        for (var record : records) {
            assertThat(chain.accept(record)).as("the chain stays whole").isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void anAppendFollowsTheNewestRecordWhenTheHeadRowLagsBehindIt(EmbeddedStore store) throws Exception {
        db = store.open(dir);
        var audit = new JdbcAuditLog(db.dataSource());
        var appender = new AuditAppender(new Jdbc(db.dataSource()));
        appender.append(event("first", "test"), c -> null);
        appender.append(event("second", "test"), c -> null);
        try (var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            // a head row one record behind, as H2 has handed a writer under contention
            s.executeUpdate("update audit_head set last_id = last_id - 1, last_hash = (select hash from audit_events"
                    + " where id = (select max(id) - 1 from audit_events)) where id = 1");
        }
        appender.appendAsync(event("third", "test"), c -> null).get(30, TimeUnit.SECONDS);
        appender.append(event("fourth", "test"), c -> null);

        List<dev.lanyard.audit.AuditRecord> records = audit.list(AuditQuery.all(0, 1000));
        assertThat(records).extracting(r -> r.event().action()).endsWith("first", "second", "third", "fourth");
        var chain = new dev.lanyard.audit.AuditChain.Verifier();
        for (var record : records) {
            assertThat(chain.accept(record)).as("the chain stays whole").isEmpty();
        }
    }

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void aCommitWaitsForAnAppendInPreparationAndBothShareIt(EmbeddedStore store) throws Exception {
        db = store.open(dir);
        new JdbcAuditLog(db.dataSource());
        var appender = new AuditAppender(new Jdbc(db.dataSource()), java.time.Duration.ofSeconds(60));
        CountDownLatch preparing = new CountDownLatch(1);
        CountDownLatch signed = new CountDownLatch(1);
        CompletableFuture<CompletableFuture<Void>> second = CompletableFuture.supplyAsync(() -> appender.preparing(() -> {
            preparing.countDown();
            await(signed); // a renewal checking its CSR and signing, on another network thread
            return appender.appendAsync(event("second", "test"), c -> null);
        }));
        preparing.await(30, TimeUnit.SECONDS);

        CompletableFuture<Void> first = appender.appendAsync(event("first", "test"), c -> null);
        Thread.sleep(200);
        assertThat(first).as("held back while another append is in preparation").isNotDone();
        signed.countDown();

        first.get(30, TimeUnit.SECONDS);
        second.get(30, TimeUnit.SECONDS).get(30, TimeUnit.SECONDS);
        assertThat(appender.appended()).isEqualTo(2);
        assertThat(appender.commits()).as("one durable commit for both").isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void anAppendAloneIsNotHeldBackAndAStuckPreparationHoldsACommitNoLongerThanTheLongestWait(EmbeddedStore store)
            throws Exception {
        db = store.open(dir);
        new JdbcAuditLog(db.dataSource());
        var alone = new AuditAppender(new Jdbc(db.dataSource()), java.time.Duration.ofHours(1));
        alone.appendAsync(event("alone", "test"), c -> null).get(30, TimeUnit.SECONDS); // held, it would take an hour

        var appender = new AuditAppender(new Jdbc(db.dataSource()), java.time.Duration.ofMillis(50));
        CountDownLatch preparing = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        CompletableFuture<Object> stuck = CompletableFuture.supplyAsync(() -> appender.preparing(() -> {
            preparing.countDown();
            await(never); // a request that never gets to its append
            return null;
        }));
        preparing.await(30, TimeUnit.SECONDS);
        appender.appendAsync(event("waited", "test"), c -> null).get(30, TimeUnit.SECONDS);
        assertThat(appender.commits()).isEqualTo(1);
        never.countDown();
        stuck.get(30, TimeUnit.SECONDS);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static AuditEvent event(String action, String actor) {
        return new AuditEvent(Instant.now(), actor, action, "target", AuditEvent.Outcome.SUCCESS, "");
    }

    private static Registration registration(SpiffeId id) {
        return new Registration(id, List.of(), java.time.Duration.ofHours(1), Instant.now());
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
