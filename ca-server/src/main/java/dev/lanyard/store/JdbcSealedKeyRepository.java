package dev.lanyard.store;

import dev.lanyard.custody.KeyAlgorithm;
import dev.lanyard.custody.SealedKeyRepository;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/** Software custody's sealed keys in the custody_keys table. */
public final class JdbcSealedKeyRepository implements SealedKeyRepository {

    private final Jdbc jdbc;

    public JdbcSealedKeyRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    /** Ids are random or derived from the key, so a clash is a bug: checked first, and the primary key stops a race. */
    @Override
    public boolean insert(SealedKey key) {
        if (find(key.id()).isPresent()) {
            return false;
        }
        return jdbc.update("insert into custody_keys (id, algorithm, public_key, sealed_private_key, created_at)"
                + " values (?, ?, ?, ?, ?)", s -> {
                    s.setString(1, key.id());
                    s.setString(2, key.algorithm().map(Enum::name).orElse(null));
                    s.setString(3, key.publicKeyDer().orElse(null));
                    s.setString(4, key.sealed());
                    Jdbc.setInstant(s, 5, key.createdAt());
                }) == 1;
    }

    @Override
    public Optional<SealedKey> find(String id) {
        return jdbc.queryOne("select * from custody_keys where id = ?", s -> s.setString(1, id),
                JdbcSealedKeyRepository::map);
    }

    @Override
    public List<SealedKey> all() {
        return jdbc.query("select * from custody_keys order by created_at, id", s -> { },
                JdbcSealedKeyRepository::map);
    }

    @Override
    public boolean delete(String id) {
        return jdbc.update("delete from custody_keys where id = ?", s -> s.setString(1, id)) == 1;
    }

    @Override
    public boolean replaceSealed(String id, String expected, String replacement) {
        return jdbc.update("update custody_keys set sealed_private_key = ? where id = ? and sealed_private_key = ?",
                s -> {
                    s.setString(1, replacement);
                    s.setString(2, id);
                    s.setString(3, expected);
                }) == 1;
    }

    private static SealedKey map(ResultSet row) throws SQLException {
        return new SealedKey(row.getString("id"),
                Optional.ofNullable(row.getString("algorithm")).map(KeyAlgorithm::valueOf),
                Optional.ofNullable(row.getString("public_key")), row.getString("sealed_private_key"),
                Jdbc.getInstant(row, "created_at"));
    }
}
