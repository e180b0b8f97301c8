package dev.lanyard.store;

import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.token.SigningKeyRepository;
import dev.lanyard.token.StoredSigningKey;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

public final class JdbcSigningKeyRepository implements SigningKeyRepository {

    private final Jdbc jdbc;

    public JdbcSigningKeyRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void insert(StoredSigningKey key, Fence fence) {
        jdbc.inTransaction(c -> {
            JdbcLeases.check(c, fence, key.createdAt());
            return Jdbc.update(c, "insert into signing_keys (kid, algorithm, status, public_jwk, custody_key_id, created_at,"
                + " activated_at, retired_at) values (?, ?, ?, ?, ?, ?, ?, ?)", s -> {
                    s.setString(1, key.kid());
                    s.setString(2, key.algorithm().name());
                    s.setString(3, key.status().name());
                    s.setString(4, key.publicJwkJson());
                    s.setString(5, key.custodyKeyId());
                    Jdbc.setInstant(s, 6, key.createdAt());
                    Jdbc.setInstant(s, 7, key.activatedAt().orElse(null));
                    Jdbc.setInstant(s, 8, key.retiredAt().orElse(null));
                });
        });
    }

    @Override
    public boolean activate(String kid, Instant at, Fence fence) {
        return jdbc.inTransaction(c -> {
            JdbcLeases.check(c, fence, at);
            // Under the lease row lock: retire the others and activate together, or do neither.
            int prepared = Jdbc.update(c, "update signing_keys set status = 'ACTIVE', activated_at = ?"
                    + " where kid = ? and status = 'PREPARED'", s -> {
                        Jdbc.setInstant(s, 1, at);
                        s.setString(2, kid);
                    });
            if (prepared == 0) {
                return false;
            }
            // Each algorithm has its own active key (ES256 for contracts, RS256 for AWS STS, ...).
            Jdbc.update(c, "update signing_keys set status = 'RETIRED', retired_at = ? where status = 'ACTIVE'"
                    + " and kid <> ? and algorithm = (select k.algorithm from signing_keys k where k.kid = ?)", s -> {
                        Jdbc.setInstant(s, 1, at);
                        s.setString(2, kid);
                        s.setString(3, kid);
                    });
            return true;
        });
    }

    @Override
    public boolean updateStatus(String kid, KeyStatus from, KeyStatus to, Instant at) {
        String stamp = to == KeyStatus.ACTIVE ? "activated_at" : "retired_at";
        return jdbc.update("update signing_keys set status = ?, " + stamp + " = ? where kid = ? and status = ?", s -> {
            s.setString(1, to.name());
            Jdbc.setInstant(s, 2, at);
            s.setString(3, kid);
            s.setString(4, from.name());
        }) == 1;
    }

    @Override
    public List<StoredSigningKey> all() {
        return jdbc.query("select * from signing_keys order by created_at, kid", s -> { },
                JdbcSigningKeyRepository::map);
    }

    @Override
    public boolean delete(String kid) {
        return jdbc.update("delete from signing_keys where kid = ?", s -> s.setString(1, kid)) == 1;
    }

    private static StoredSigningKey map(ResultSet row) throws SQLException {
        return new StoredSigningKey(row.getString("kid"), SigningAlgorithm.valueOf(row.getString("algorithm")),
                KeyStatus.valueOf(row.getString("status")), row.getString("public_jwk"),
                row.getString("custody_key_id"), Jdbc.getInstant(row, "created_at"),
                Optional.ofNullable(Jdbc.getInstant(row, "activated_at")),
                Optional.ofNullable(Jdbc.getInstant(row, "retired_at")));
    }
}
