package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import dev.lanyard.spiffe.SpiffeId;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Preloaded records look like the server's: certificates findable, each with an audit record in an intact chain. */
class PreloaderTest {

    private static final Instant NOW = Instant.parse("2026-11-01T10:00:00Z");

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(EmbeddedStore.class)
    void preloadedIssuancesJoinTheChainAndTheServersOwnAppendsFollowThem(EmbeddedStore store) {
        try (Database db = store.open(dir)) {
            var audit = new JdbcAuditLog(db.dataSource());
            audit.record(new AuditEvent(NOW, "admin", "registration.create", "x", AuditEvent.Outcome.SUCCESS, ""));
            List<Long> progress = new ArrayList<>();
            long count = Preloader.BATCH + 10;

            new Preloader(db.dataSource(), Clock.fixed(NOW, ZoneOffset.UTC), new Random(1))
                    .preload(count, "example.org", 100, "ca-1", progress::add);
            audit.record(new AuditEvent(NOW, "admin", "after.preload", "x", AuditEvent.Outcome.SUCCESS, ""));

            assertThat(progress).containsExactly((long) Preloader.BATCH, count);
            var certificates = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
            // issuance k goes to workload k % 100: workload-7 has k = 7, 107, ..., 5007
            SpiffeId workload = SpiffeId.parse("spiffe://example.org/ns/bench/sa/workload-7");
            assertThat(certificates.list(Optional.of(workload), Optional.empty(), 1000).certificates())
                    .hasSize(51).allSatisfy(c -> assertThat(c.issuerKeyId()).isEqualTo("ca-1"));
            AuditChain.Verifier verifier = new AuditChain.Verifier();
            long after = 0;
            List<AuditRecord> page;
            while (!(page = audit.list(AuditQuery.all(after, 1000))).isEmpty()) {
                for (AuditRecord r : page) {
                    assertThat(verifier.accept(r)).isEmpty();
                }
                after = page.get(page.size() - 1).id();
            }
            assertThat(verifier.count()).isEqualTo(count + 2);
            assertThat(audit.recent(2).get(1).action()).isEqualTo("certificate.renew");
        }
    }
}
