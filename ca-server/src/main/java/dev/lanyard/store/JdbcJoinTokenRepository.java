package dev.lanyard.store;

import dev.lanyard.attest.JoinTokenRepository;
import dev.lanyard.attest.StoredJoinToken;
import dev.lanyard.spiffe.SpiffeId;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import javax.sql.DataSource;

public final class JdbcJoinTokenRepository implements JoinTokenRepository {

    private final Jdbc jdbc;

    public JdbcJoinTokenRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void insert(StoredJoinToken token) {
        jdbc.update("insert into join_tokens (id, secret_hash, spiffe_id, created_at, expires_at, used_at)"
                + " values (?, ?, ?, ?, ?, ?)", s -> {
                    s.setString(1, token.id());
                    s.setString(2, HexFormat.of().formatHex(token.secretHash()));
                    s.setString(3, token.spiffeId().toString());
                    Jdbc.setInstant(s, 4, token.createdAt());
                    Jdbc.setInstant(s, 5, token.expiresAt());
                    Jdbc.setInstant(s, 6, token.usedAt().orElse(null));
                });
    }

    @Override
    public Optional<StoredJoinToken> find(String id) {
        return jdbc.queryOne("select * from join_tokens where id = ?", s -> s.setString(1, id),
                JdbcJoinTokenRepository::map);
    }

    @Override
    public boolean markUsed(String id, Instant usedAt) {
        // The WHERE clause makes this a compare-and-set: exactly one caller sees a row updated.
        return jdbc.update("update join_tokens set used_at = ? where id = ? and used_at is null", s -> {
            Jdbc.setInstant(s, 1, usedAt);
            s.setString(2, id);
        }) == 1;
    }

    private static StoredJoinToken map(ResultSet row) throws SQLException {
        return new StoredJoinToken(row.getString("id"), HexFormat.of().parseHex(row.getString("secret_hash")),
                SpiffeId.parse(row.getString("spiffe_id")), Jdbc.getInstant(row, "created_at"),
                Jdbc.getInstant(row, "expires_at"), Optional.ofNullable(Jdbc.getInstant(row, "used_at")));
    }
}
