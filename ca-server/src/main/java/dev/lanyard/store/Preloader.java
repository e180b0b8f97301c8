package dev.lanyard.store;

import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.ids.TimeOrderedId;
import dev.lanyard.spiffe.SpiffeId;
import java.math.BigInteger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.function.LongConsumer;
import javax.sql.DataSource;

/**
 * Fills a store with realistic issuance records for benchmarks (`lanyard bench preload`): each a
 * certificate record with its `certificate.renew` audit record, chained like the server's own, as
 * if {@code identities} workloads had renewed 1-hour certificates over the past hours. Written with
 * batched inserts, many per transaction, so a million take minutes, not the hours the server's
 * one-request-at-a-time path would.
 */
public final class Preloader {

    static final int BATCH = 5000;

    private final Jdbc jdbc;
    private final Clock clock;
    private final Random random;

    /** @param random fills serials and fingerprints: benchmark data, no secret */
    public Preloader(DataSource dataSource, Clock clock, Random random) {
        this.jdbc = new Jdbc(dataSource);
        this.clock = clock;
        this.random = random;
    }

    /**
     * Appends {@code count} issuances for {@code identities} identities under {@code trustDomain},
     * issued by {@code issuerKeyId}; {@code progress} hears the running total after each batch.
     */
    public void preload(long count, String trustDomain, int identities, String issuerKeyId, LongConsumer progress) {
        Instant now = clock.instant();
        long done = 0;
        while (done < count) {
            int n = (int) Math.min(BATCH, count - done);
            long first = done;
            jdbc.inTransaction(c -> {
                batch(c, first, n, count, now, trustDomain, identities, issuerKeyId);
                return null;
            });
            done += n;
            progress.accept(done);
        }
    }

    private void batch(Connection c, long first, int n, long count, Instant now, String trustDomain, int identities,
            String issuerKeyId) throws SQLException {
        AuditAppender.Head head = AuditAppender.Head.lock(c);
        List<AuditEvent> events = new ArrayList<>(n);
        try (PreparedStatement certificate = c.prepareStatement("insert into issued_certificates (serial_hex,"
                + " spiffe_id, not_before, not_after, sha256_fingerprint, issued_at, issuer_key_id)"
                + " values (?, ?, ?, ?, ?, ?, ?)")) {
            for (int i = 0; i < n; i++) {
                long k = first + i;
                // Spread over the past: the oldest issued count/20,000 hours ago (20,000 renewals an hour).
                Instant issued = AuditChain.stored(now.minus(Duration.ofMillis((count - k) * 180)));
                SpiffeId id = SpiffeId.parse("spiffe://" + trustDomain + "/ns/bench/sa/workload-" + (k % identities));
                // As the server makes them: the time of issue on top, so they sort in the order issued.
                String serial = new BigInteger(1, TimeOrderedId.next(issued, random)).toString(16);
                certificate.setString(1, serial);
                certificate.setString(2, id.toString());
                Jdbc.setInstant(certificate, 3, issued.minusSeconds(5));
                Jdbc.setInstant(certificate, 4, issued.plus(Duration.ofHours(1)));
                certificate.setString(5, hex(32));
                Jdbc.setInstant(certificate, 6, issued);
                certificate.setString(7, issuerKeyId);
                certificate.addBatch();

                events.add(new AuditEvent(issued, id.toString(), "certificate.renew", id + " serial " + serial,
                        AuditEvent.Outcome.SUCCESS, ""));
            }
            certificate.executeBatch();
        }
        AuditAppender.link(c, head, events);
    }

    private String hex(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
