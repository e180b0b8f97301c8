package dev.lanyard.store;

import dev.lanyard.console.LoginLinkRepository;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import javax.sql.DataSource;

public final class JdbcLoginLinkRepository implements LoginLinkRepository {

    private final Jdbc jdbc;

    public JdbcLoginLinkRepository(DataSource dataSource) {
        this.jdbc = new Jdbc(dataSource);
    }

    @Override
    public void insert(byte[] secretHash, Grant grant, Instant createdAt, Instant expiresAt) {
        jdbc.update("insert into console_login_links (secret_hash, admin_id, admin_serial, admin_not_after,"
                + " created_at, expires_at) values (?, ?, ?, ?, ?, ?)", s -> {
                    s.setString(1, HexFormat.of().formatHex(secretHash));
                    s.setString(2, grant.adminId());
                    s.setString(3, grant.adminSerialHex());
                    Jdbc.setInstant(s, 4, grant.adminNotAfter());
                    Jdbc.setInstant(s, 5, createdAt);
                    Jdbc.setInstant(s, 6, expiresAt);
                });
    }

    @Override
    public Optional<Grant> redeem(byte[] secretHash, Instant now) {
        String hash = HexFormat.of().formatHex(secretHash);
        // Read first: the console port is reachable from the network, and a wrong or used link must
        // cost no write. A link without its certificate's end (minted by an older replica) logs nobody in.
        Optional<Grant> grant = jdbc.queryOne("select admin_id, admin_serial, admin_not_after from console_login_links"
                + " where secret_hash = ? and used_at is null and expires_at > ? and admin_not_after is not null",
                s -> {
                    s.setString(1, hash);
                    Jdbc.setInstant(s, 2, now);
                },
                row -> new Grant(row.getString("admin_id"), row.getString("admin_serial"),
                        Jdbc.getInstant(row, "admin_not_after")));
        if (grant.isEmpty()) {
            return Optional.empty();
        }
        // The WHERE clause makes this a compare-and-set: one redemption of a link, on any replica.
        int used = jdbc.update("update console_login_links set used_at = ? where secret_hash = ?"
                + " and used_at is null and expires_at > ?", s -> {
                    Jdbc.setInstant(s, 1, now);
                    s.setString(2, hash);
                    Jdbc.setInstant(s, 3, now);
                });
        return used == 1 ? grant : Optional.empty();
    }

    @Override
    public int pruneExpired(Instant cutoff) {
        return jdbc.update("delete from console_login_links where expires_at < ?", s -> Jdbc.setInstant(s, 1, cutoff));
    }
}
