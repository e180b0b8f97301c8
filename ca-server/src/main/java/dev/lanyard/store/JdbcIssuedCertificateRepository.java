package dev.lanyard.store;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import dev.lanyard.registration.Registration;
import dev.lanyard.spiffe.SpiffeId;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;

public final class JdbcIssuedCertificateRepository implements IssuedCertificateRepository {

    /** The issued_as of a certificate issued through a workload path, and of one the server issued itself. */
    private static final String WORKLOAD = "workload";
    private static final String LOCAL = "local";

    private final Jdbc jdbc;
    private final JdbcAuditLog audit;

    /** @param audit the trail that each certificate's issuance record joins, in the same transaction */
    public JdbcIssuedCertificateRepository(DataSource dataSource, JdbcAuditLog audit) {
        this.jdbc = new Jdbc(dataSource);
        this.audit = audit;
    }

    @Override
    public void record(IssuedCertificateRecord c, AuditEvent issuance) {
        audit.record(issuance, connection -> insert(connection, c, LOCAL));
    }

    @Override
    public CompletableFuture<Void> recordForWorkload(IssuedCertificateRecord c, AuditEvent issuance,
            List<String> presentedSerials, Registration decidedOn) {
        return audit.recordAsync(issuance, connection -> {
            IdentityOrder.lockUnrevoked(connection, c.spiffeId().toString(), presentedSerials, Optional.of(decidedOn));
            return insert(connection, c, WORKLOAD);
        });
    }

    @Override
    public CompletableFuture<Void> recordForWorkload(IssuedCertificateRecord c, AuditEvent issuance,
            List<String> presentedSerials, Registration decidedOn, Alongside alongside) {
        return audit.recordAsync(issuance, connection -> {
            jdbc.joining(connection, joined -> { // the repositories it uses write in this transaction
                try {
                    alongside.make();
                } catch (Refusal refused) {
                    throw new RefusedInTransaction(refused); // rolls back what it wrote too
                }
                return null;
            });
            IdentityOrder.lockUnrevoked(connection, c.spiffeId().toString(), presentedSerials, Optional.of(decidedOn));
            return insert(connection, c, WORKLOAD);
        });
    }

    private static int insert(Connection connection, IssuedCertificateRecord c, String issuedAs) throws SQLException {
        return Jdbc.update(connection, "insert into issued_certificates (serial_hex, spiffe_id, not_before, not_after,"
                + " sha256_fingerprint, issued_at, issuer_key_id, issued_as) values (?, ?, ?, ?, ?, ?, ?, ?)", s -> {
                    s.setString(1, c.serialHex());
                    s.setString(2, c.spiffeId().toString());
                    Jdbc.setInstant(s, 3, c.notBefore());
                    Jdbc.setInstant(s, 4, c.notAfter());
                    s.setString(5, c.sha256Fingerprint());
                    Jdbc.setInstant(s, 6, c.issuedAt());
                    s.setString(7, c.issuerKeyId());
                    s.setString(8, issuedAs);
                });
    }

    @Override
    public boolean issuedToWorkload(String serialHex) {
        return jdbc.queryOne("select issued_as from issued_certificates where serial_hex = ?",
                s -> s.setString(1, serialHex), row -> row.getString(1)).map(WORKLOAD::equals).orElse(false);
    }

    @Override
    public Optional<IssuedCertificateRecord> findBySerial(String serialHex) {
        return jdbc.queryOne("select * from issued_certificates where serial_hex = ?", s -> s.setString(1, serialHex),
                JdbcIssuedCertificateRepository::map);
    }

    @Override
    public List<IssuedCertificateRecord> live(SpiffeId spiffeId, Instant now) {
        return jdbc.query("select * from issued_certificates where spiffe_id = ? and not_after > ? order by id",
                s -> {
                    s.setString(1, spiffeId.toString());
                    Jdbc.setInstant(s, 2, now);
                }, JdbcIssuedCertificateRepository::map);
    }

    @Override
    public int pruneExpired(Instant cutoff, int limit) {
        return jdbc.update("delete from issued_certificates where id in (select id from issued_certificates"
                + " where not_after < ? order by not_after fetch first ? rows only)", s -> {
                    Jdbc.setInstant(s, 1, cutoff);
                    s.setInt(2, limit);
                });
    }

    @Override
    public Page list(Optional<SpiffeId> spiffeId, Optional<String> cursor, int limit) {
        long before = cursor.map(JdbcIssuedCertificateRepository::parseCursor).orElse(Long.MAX_VALUE);
        String sql = "select * from issued_certificates where id < ?"
                + (spiffeId.isPresent() ? " and spiffe_id = ?" : "")
                + " order by id desc fetch first ? rows only";
        record Row(long id, IssuedCertificateRecord certificate) {
        }
        List<Row> rows = jdbc.query(sql, s -> {
            int i = 1;
            s.setLong(i++, before);
            if (spiffeId.isPresent()) {
                s.setString(i++, spiffeId.get().toString());
            }
            s.setInt(i, limit + 1);
        }, row -> new Row(row.getLong("id"), map(row)));
        Optional<String> next = rows.size() > limit
                ? Optional.of(Long.toString(rows.get(limit - 1).id()))
                : Optional.empty();
        return new Page(rows.stream().limit(limit).map(Row::certificate).toList(), next);
    }

    private static long parseCursor(String cursor) {
        try {
            return Long.parseLong(cursor);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a certificate list cursor");
        }
    }

    private static IssuedCertificateRecord map(ResultSet row) throws SQLException {
        return new IssuedCertificateRecord(row.getString("serial_hex"), SpiffeId.parse(row.getString("spiffe_id")),
                Jdbc.getInstant(row, "not_before"), Jdbc.getInstant(row, "not_after"),
                row.getString("sha256_fingerprint"), Jdbc.getInstant(row, "issued_at"), row.getString("issuer_key_id"));
    }
}
