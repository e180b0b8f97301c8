package dev.lanyard.store;

import dev.lanyard.ca.CaKeyRepository;
import dev.lanyard.ca.PendingCaKey;
import dev.lanyard.ca.StoredCaKey;
import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

public final class JdbcCaKeyRepository implements CaKeyRepository {

    private final Jdbc jdbc;

    public JdbcCaKeyRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void insert(StoredCaKey key) {
        jdbc.inTransaction(c -> insert(c, key));
    }

    @Override
    public void insert(StoredCaKey key, Fence fence) {
        jdbc.inTransaction(c -> {
            JdbcLeases.check(c, fence, key.createdAt());
            return insert(c, key);
        });
    }

    private static int insert(java.sql.Connection c, StoredCaKey key) throws SQLException {
        return Jdbc.update(c, "insert into ca_keys (id, kind, status, certificate_pem, custody_key_id, not_after, created_at,"
                + " activated_at, retired_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", s -> {
                    s.setString(1, key.id());
                    s.setString(2, key.kind().name());
                    s.setString(3, key.status().name());
                    s.setString(4, key.certificatePem());
                    s.setString(5, key.custodyKeyId().orElse(null));
                    Jdbc.setInstant(s, 6, key.notAfter());
                    Jdbc.setInstant(s, 7, key.createdAt());
                    Jdbc.setInstant(s, 8, key.activatedAt().orElse(null));
                    Jdbc.setInstant(s, 9, key.retiredAt().orElse(null));
                });
    }

    @Override
    public boolean keyDestroyed(String id) {
        return jdbc.update("update ca_keys set custody_key_id = null where id = ? and status = 'DROPPED'",
                s -> s.setString(1, id)) == 1;
    }

    @Override
    public void insertPending(PendingCaKey key) {
        jdbc.update("insert into ca_pending_keys (id, custody_key_id, csr_pem, created_at) values (?, ?, ?, ?)", s -> {
            s.setString(1, key.id());
            s.setString(2, key.custodyKeyId());
            s.setString(3, key.csrPem());
            Jdbc.setInstant(s, 4, key.createdAt());
        });
    }

    @Override
    public List<PendingCaKey> pending() {
        return jdbc.query("select * from ca_pending_keys order by created_at, id", s -> { },
                row -> new PendingCaKey(row.getString("id"), row.getString("custody_key_id"), row.getString("csr_pem"),
                        Jdbc.getInstant(row, "created_at")));
    }

    @Override
    public boolean certifyPending(String pendingId, StoredCaKey certified) {
        return jdbc.inTransaction(c -> {
            int gone = Jdbc.update(c, "delete from ca_pending_keys where id = ?", s -> s.setString(1, pendingId));
            if (gone == 0) {
                return false;
            }
            insert(c, certified);
            return true;
        });
    }

    @Override
    public boolean updateStatus(String id, KeyStatus from, KeyStatus to, Instant at) {
        String stamp = switch (to) {
            case ACTIVE -> ", activated_at = ?";
            case RETIRED -> ", retired_at = ?";
            default -> "";
        };
        return jdbc.update("update ca_keys set status = ?" + stamp + " where id = ? and status = ?", s -> {
            int i = 1;
            s.setString(i++, to.name());
            if (!stamp.isEmpty()) {
                Jdbc.setInstant(s, i++, at);
            }
            s.setString(i++, id);
            s.setString(i, from.name());
        }) == 1;
    }

    @Override
    public boolean activate(String id, Instant at, Fence fence) {
        return jdbc.inTransaction(c -> {
            JdbcLeases.check(c, fence, at);
            // Under the lease row lock: retire the others and activate together, or do neither.
            int prepared = Jdbc.update(c, "update ca_keys set status = 'ACTIVE', activated_at = ?"
                    + " where id = ? and kind = 'INTERMEDIATE' and status = 'PREPARED'", s -> {
                        Jdbc.setInstant(s, 1, at);
                        s.setString(2, id);
                    });
            if (prepared == 0) {
                return false;
            }
            Jdbc.update(c, "update ca_keys set status = 'RETIRED', retired_at = ? where kind = 'INTERMEDIATE'"
                    + " and status = 'ACTIVE' and id <> ?", s -> {
                        Jdbc.setInstant(s, 1, at);
                        s.setString(2, id);
                    });
            return true;
        });
    }

    @Override
    public Optional<StoredCaKey> find(String id) {
        return jdbc.queryOne("select * from ca_keys where id = ?", s -> s.setString(1, id), JdbcCaKeyRepository::map);
    }

    @Override
    public List<StoredCaKey> all() {
        return jdbc.query("select * from ca_keys order by created_at, id", s -> { }, JdbcCaKeyRepository::map);
    }

    private static StoredCaKey map(ResultSet row) throws SQLException {
        return new StoredCaKey(row.getString("id"), StoredCaKey.Kind.valueOf(row.getString("kind")),
                KeyStatus.valueOf(row.getString("status")), row.getString("certificate_pem"),
                Optional.ofNullable(row.getString("custody_key_id")), Jdbc.getInstant(row, "not_after"),
                Jdbc.getInstant(row, "created_at"), Optional.ofNullable(Jdbc.getInstant(row, "activated_at")),
                Optional.ofNullable(Jdbc.getInstant(row, "retired_at")));
    }
}
