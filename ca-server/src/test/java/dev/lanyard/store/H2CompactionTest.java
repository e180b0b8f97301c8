package dev.lanyard.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.spiffe.SpiffeId;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The H2 file stays near its live data: issuances from eight threads (group-committed, as under
 * load) with the compaction run as the server runs it, then the file's size per issuance.
 */
class H2CompactionTest {

    private static final Instant T = Instant.parse("2026-11-01T10:00:00Z");
    private static final SpiffeId ID = SpiffeId.parse("spiffe://example.org/ns/payments/sa/api");

    @TempDir
    Path dir;

    @Test
    void theFileStaysNearItsLiveDataAsCertificatesAreIssued() throws Exception {
        int threads = 8;
        int each = 400;
        long bytes;
        try (Database db = Database.h2File(dir)) {
            var audit = new JdbcAuditLog(db.dataSource());
            var certificates = new JdbcIssuedCertificateRepository(db.dataSource(), audit);
            List<Thread> issuers = new ArrayList<>();
            List<Throwable> failures = new CopyOnWriteArrayList<>();
            for (int t = 0; t < threads; t++) {
                Random random = new Random(t);
                Thread issuer = new Thread(() -> {
                    try {
                        for (int i = 0; i < each; i++) {
                            String serial = hex(random, 16);
                            certificates.record(new IssuedCertificateRecord(serial, ID, T, T.plusSeconds(3600),
                                    hex(random, 32), T, "ca-20261101T100000Z-1"), new AuditEvent(T, ID.toString(),
                                            "svid.renew", ID.toString(), AuditEvent.Outcome.SUCCESS, "serial " + serial));
                        }
                    } catch (RuntimeException e) {
                        failures.add(e);
                    }
                });
                issuers.add(issuer);
                issuer.start();
            }
            while (issuers.stream().anyMatch(Thread::isAlive)) {
                Thread.sleep(1100); // past RETENTION_TIME; the server's compaction runs every 5 s
                db.compactNow();
            }
            assertThat(failures).isEmpty();
            Thread.sleep(1100);
            db.compactNow();
            bytes = db.bytesOnDisk();
        }
        // With H2's defaults and no compaction this file took 13-18 KB per issuance.
        assertThat(bytes / (threads * each)).as("bytes on disk per issued certificate with its audit record (file %d"
                + " bytes)", bytes).isLessThan(1500);
    }

    private static String hex(Random random, int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
