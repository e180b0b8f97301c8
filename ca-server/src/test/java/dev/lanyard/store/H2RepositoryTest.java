package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The storage contract on the embedded default: a real H2 file database. */
class H2RepositoryTest extends RepositoryContractTest {

    @TempDir
    Path dir;

    @Override
    Database openFreshDatabase() {
        return Database.h2File(dir);
    }

    @Test
    void aWrongUsedOrExpiredLoginLinkCostsNoWrite() {
        var links = new JdbcLoginLinkRepository(db.dataSource());
        byte[] hash = new byte[32];
        hash[0] = 7;
        var grant = new dev.lanyard.console.LoginLinkRepository.Grant(SpiffeId.parse("spiffe://example.org/admin")
                .toString(), "1f", Instant.parse("2026-11-01T10:10:00Z"));
        Instant at = Instant.parse("2026-11-01T10:00:00Z");
        links.insert(hash, grant, at, at.plus(Duration.ofMinutes(1)));
        long commits = db.syncCounts().orElseThrow().commits();

        byte[] wrong = new byte[32];
        wrong[0] = 8;
        assertThat(links.redeem(wrong, at.plusSeconds(1))).isEmpty();
        assertThat(links.redeem(hash, at.plus(Duration.ofMinutes(2)))).as("expired").isEmpty();
        assertThat(db.syncCounts().orElseThrow().commits()).as("no write for a wrong or expired link").isEqualTo(commits);

        assertThat(links.redeem(hash, at.plusSeconds(1))).contains(grant);
        long afterUse = db.syncCounts().orElseThrow().commits();
        assertThat(afterUse).as("the redemption itself writes").isGreaterThan(commits);
        assertThat(links.redeem(hash, at.plusSeconds(2))).as("used").isEmpty();
        assertThat(db.syncCounts().orElseThrow().commits()).as("no write for a used link").isEqualTo(afterUse);
    }

    @Test
    void revocationsHeldBeforeV92KeepTheirTrustDomainAndAnotherPeersRevocationOfTheSameSerialIsTakenIn()
            throws Exception {
        db.close();
        org.h2.jdbcx.JdbcDataSource h2 = new org.h2.jdbcx.JdbcDataSource();
        h2.setURL("jdbc:h2:file:" + dir.resolve("v91").resolve("lanyard").toAbsolutePath() + Database.H2_SETTINGS);
        h2.setUser("lanyard");
        h2.setPassword("");
        org.flywaydb.core.Flyway.configure().dataSource(h2).locations("classpath:db/migration").target("91").load()
                .migrate();
        Instant at = Instant.parse("2026-11-01T10:00:00Z");
        try (java.sql.Connection c = h2.getConnection(); java.sql.Statement s = c.createStatement()) {
            s.executeUpdate("insert into revocation_events (sequence, event_kind, target_kind, target, spiffe_id,"
                    + " issuer_key_id, reason, note, actor, occurred_at, expires_at, trust_domain) values"
                    + " (1, 'REVOKED', 'SERIAL', 'c0ffee01', '', '', 1, '', 'federation b.test',"
                    + " timestamp with time zone '2026-11-01 10:00:00Z', timestamp with time zone '2026-11-02 10:00:00Z',"
                    + " 'b.test'), (2, 'REVOKED', 'SPIFFE_ID', 'spiffe://example.org/x', 'spiffe://example.org/x', '',"
                    + " 0, '', 'admin', timestamp with time zone '2026-11-01 10:00:00Z', null, '')");
            s.executeUpdate("insert into revocations (target_kind, target, sequence) values ('SERIAL', 'c0ffee01', 1),"
                    + " ('SPIFFE_ID', 'spiffe://example.org/x', 2)");
            s.executeUpdate("update revocation_head set last_sequence = 2");
        }
        db = Database.h2File(dir.resolve("v91"));
        var repo = new JdbcRevocationRepository(db.dataSource());
        var listed = List.of(new dev.lanyard.revocation.RevocationRepository.NewRevocation(
                dev.lanyard.revocation.RevocationTarget.serial("c0ffee01"),
                dev.lanyard.revocation.RevocationReason.KEY_COMPROMISE, "", at, "federation c.test", "", "",
                java.util.Optional.of(at.plus(Duration.ofDays(1))), "c.test"));
        assertThat(repo.importFederated("c.test", 1, listed, 10, at, "federation c.test").revoked()).isEqualTo(1);
        assertThat(repo.reinstate("spiffe://example.org/x", at, "admin", "")).isPresent();
        var registry = new dev.lanyard.revocation.RevocationRegistry(repo,
                java.time.Clock.fixed(at, java.time.ZoneOffset.UTC));
        registry.catchUp();
        assertThat(registry.inForce()).extracting(r -> r.trustDomain() + " " + r.target())
                .containsExactly("b.test serial c0ffee01", "c.test serial c0ffee01");
    }

    @Test
    void dataSurvivesReopeningAndMigrationsRunOnce() {
        new JdbcRegistrationRepository(db.dataSource()).create(new Registration(
                SpiffeId.parse("spiffe://example.org/kept"), List.of(), Duration.ofHours(1), Instant.now()));
        db.close();
        db = Database.h2File(dir);
        assertThat(new JdbcRegistrationRepository(db.dataSource()).find(SpiffeId.parse("spiffe://example.org/kept")))
                .isPresent();
    }
}
