package dev.lanyard.store;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.token.MintedTokenRepository;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

public final class JdbcMintedTokenRepository implements MintedTokenRepository {

    private final JdbcAuditLog audit;

    /** @param audit the trail each minting record joins, in the same transaction */
    public JdbcMintedTokenRepository(JdbcAuditLog audit) {
        this.audit = audit;
    }

    @Override
    public CompletableFuture<Void> record(String jti, SpiffeId spiffeId, Instant expiresAt, AuditEvent minting,
            List<String> presentedSerials) {
        return audit.recordAsync(minting, c -> {
            IdentityOrder.lockUnrevoked(c, spiffeId.toString(), presentedSerials, Optional.empty());
            return Jdbc.update(c, "insert into minted_tokens (jti, spiffe_id, expires_at) values (?, ?, ?)", s -> {
                s.setString(1, jti);
                s.setString(2, spiffeId.toString());
                Jdbc.setInstant(s, 3, expiresAt);
            });
        });
    }
}
