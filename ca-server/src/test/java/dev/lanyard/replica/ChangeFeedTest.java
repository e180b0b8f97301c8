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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What another replica writes reaches this one's readers within a second, on both databases. */
class ChangeFeedTest {

    @TempDir
    Path dir;

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

    private static void picksUpChanges(Database db, Duration safetyPoll) throws Exception {
        var policies = new JdbcPolicyRepository(db.dataSource());
        var contracts = new JdbcContractRepository(db.dataSource());
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        CountDownLatch started = new CountDownLatch(1);
        try (ChangeFeed feed = new ChangeFeed(db, Duration.ofMillis(250), safetyPoll)
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
            System.out.printf("change feed on %s: a policy reached the reader %d ms after its commit, contracts %d ms after theirs%n",
                    db.isPostgres() ? "PostgreSQL" : "H2", policyMillis,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        }
    }
}
