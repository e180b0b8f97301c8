package dev.lanyard.replica;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcContractRepository;
import dev.lanyard.store.JdbcPolicyRepository;
import dev.lanyard.testing.TestPostgres;
import dev.lanyard.v1.Policy;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What another replica writes (policy, contracts, a federation) reaches this one's readers within a second, on both databases. */
class ChangeFeedTest {

    @TempDir
    Path dir;

    private static StoreReachability reachability() {
        return new StoreReachability(System::nanoTime, Duration.ofSeconds(5));
    }

    @Test
    void onH2ThePollPicksUpAChangeWithinASecond() throws Exception {
        try (Database db = Database.h2File(dir)) {
            picksUpChanges(db, Duration.ofSeconds(1));
        }
    }

    @Test
    void onPostgresANotificationBringsAChangeAtCommit() throws Exception {
        TestPostgres postgres = TestPostgres.get();
        try (Database db = Database.open(postgres.newDatabase(), postgres.user(), "")) {
            // The safety poll is 30 s here: only LISTEN/NOTIFY can bring the change within a second.
            picksUpChanges(db, Duration.ofSeconds(30));
        }
    }

    @Test
    void onPostgresCloseEndsTheWaitForNotificationsAtOnce() throws Exception {
        TestPostgres postgres = TestPostgres.get();
        try (Database db = Database.open(postgres.newDatabase(), postgres.user(), "")) {
            CountDownLatch listening = new CountDownLatch(1);
            ChangeFeed feed = new ChangeFeed(db, Duration.ofMillis(50), Duration.ofSeconds(30), reachability())
                    .on(ChangeFeed.Topic.POLICY, listening::countDown);
            feed.start();
            assertThat(listening.await(30, TimeUnit.SECONDS)).as("the feed's first reload").isTrue();
            Thread.sleep(200); // waiting for notifications now, for up to the 30 s safety poll

            long start = System.nanoTime();
            feed.close();
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(millis).as("close waited for the safety poll").isLessThan(2_000);
        }
    }

    @Test
    void closeWaitsForAReloadInProgressSoTheDatabaseClosesAfterIt() throws Exception {
        try (Database db = Database.h2File(dir)) {
            var policies = new JdbcPolicyRepository(db.dataSource());
            CountDownLatch reloading = new CountDownLatch(1);
            AtomicBoolean interrupted = new AtomicBoolean();
            AtomicBoolean finished = new AtomicBoolean();
            ChangeFeed feed = new ChangeFeed(db, Duration.ofMillis(50), Duration.ofSeconds(1), reachability())
                    .on(ChangeFeed.Topic.POLICY, () -> {
                        reloading.countDown();
                        try {
                            Thread.sleep(500); // a slow reload, as on a loaded machine
                        } catch (InterruptedException e) {
                            interrupted.set(true);
                        }
                        policies.latestVersion();
                        finished.set(true);
                    });
            feed.start();
            assertThat(reloading.await(30, TimeUnit.SECONDS)).isTrue();

            feed.close();

            assertThat(finished).as("close returned before the reload in progress ended").isTrue();
            assertThat(interrupted).as("the reload was interrupted (H2 closes its file under an interrupted read)")
                    .isFalse();
        }
    }

    @Test
    void aReloadThatFailedIsTriedAgainAtTheNextPollThoughNothingMovesAfterIt() throws Exception {
        try (Database db = Database.h2File(dir)) {
            var policies = new JdbcPolicyRepository(db.dataSource());
            CountDownLatch started = new CountDownLatch(1);
            AtomicBoolean failedOnce = new AtomicBoolean();
            CountDownLatch applied = new CountDownLatch(1);
            try (ChangeFeed feed = new ChangeFeed(db, Duration.ofMillis(50), Duration.ofSeconds(30), reachability())
                    .on(ChangeFeed.Topic.POLICY, () -> {
                        started.countDown();
                        if (policies.latestVersion() == 0) {
                            return;
                        }
                        // The database went away between the look at the markers and this reload.
                        if (failedOnce.compareAndSet(false, true)) {
                            throw new IllegalStateException("the connection was reset");
                        }
                        applied.countDown();
                    })) {
                feed.start();
                assertThat(started.await(30, TimeUnit.SECONDS)).as("the feed's first reload").isTrue();

                policies.save(Policy.newBuilder().setVersion(1).build(), "spiffe://example.org/admin", Instant.now());

                assertThat(applied.await(5, TimeUnit.SECONDS)).as("the policy reloaded after the failed reload")
                        .isTrue();
                assertThat(failedOnce).isTrue();
            }
        }
    }

    @Test
    void aDatabaseThatWentAwayIsLoggedOnceNotAtEveryPoll() throws Exception {
        Database db = Database.h2File(dir);
        CountDownLatch started = new CountDownLatch(1);
        try (dev.lanyard.testing.LogCapture logs = new dev.lanyard.testing.LogCapture();
                ChangeFeed feed = new ChangeFeed(db, Duration.ofMillis(50), Duration.ofSeconds(30), reachability())
                        .on(ChangeFeed.Topic.POLICY, started::countDown)) {
            feed.start();
            assertThat(started.await(30, TimeUnit.SECONDS)).as("the feed's first reload").isTrue();

            db.close(); // every poll from now on fails, about 20 of them in the next second
            Thread.sleep(1_000);

            assertThat(logs.lines().stream().filter(line -> line.contains("could not check for changes")))
                    .as("errors logged while the database is away").hasSize(1);
        }
    }

    private static void picksUpChanges(Database db, Duration safetyPoll) throws Exception {
        var policies = new JdbcPolicyRepository(db.dataSource());
        var contracts = new JdbcContractRepository(db.dataSource());
        var federations = new dev.lanyard.store.JdbcFederationRepository(db.dataSource());
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        CountDownLatch started = new CountDownLatch(1);
        try (ChangeFeed feed = new ChangeFeed(db, Duration.ofMillis(250), safetyPoll, reachability())
                .on(ChangeFeed.Topic.POLICY, () -> {
                    started.countDown();
                    if (policies.latestVersion() > 0) {
                        seen.add("policy");
                    }
                })
                .on(ChangeFeed.Topic.CONTRACTS, () -> {
                    if (contracts.latestVersion() > 0) {
                        seen.add("contracts");
                    }
                })
                .on(ChangeFeed.Topic.FEDERATION, () -> {
                    if (!federations.all().isEmpty()) {
                        seen.add("federation");
                    }
                })) {
            feed.start();
            assertThat(started.await(30, TimeUnit.SECONDS)).as("the feed's first reload").isTrue();

            policies.save(Policy.newBuilder().setVersion(1).build(), "spiffe://example.org/admin", Instant.now());
            long start = System.nanoTime(); // committed
            assertThat(seen.poll(1, TimeUnit.SECONDS)).isEqualTo("policy");
            long policyMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            seen.clear();
            contracts.saveVersion("examples", new byte[] {1}, Instant.now());
            start = System.nanoTime();
            String next;
            do {
                next = seen.poll(1, TimeUnit.SECONDS);
            } while ("policy".equals(next));
            assertThat(next).isEqualTo("contracts");
            long contractsMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            federations.put(new dev.lanyard.federation.FederationRelationship("other.test",
                    java.net.URI.create("https://other.test/bundle"),
                    dev.lanyard.federation.FederationRelationship.Profile.HTTPS_WEB, java.util.Optional.empty(),
                    Instant.now()), java.util.Optional.empty(), 0, Instant.now());
            start = System.nanoTime();
            do {
                next = seen.poll(1, TimeUnit.SECONDS);
            } while ("policy".equals(next) || "contracts".equals(next));
            assertThat(next).isEqualTo("federation");
            System.out.printf("change feed on %s: a policy reached the reader %d ms after its commit, contracts %d ms"
                    + " after theirs, a federation %d ms after its%n", db.isPostgres() ? "PostgreSQL" : "H2", policyMillis,
                    contractsMillis, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        }
    }
}
