package dev.lanyard.token;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.spiffe.SpiffeId;
import java.time.Instant;
import java.util.List;

/**
 * The tokens minted and not yet expired, so that revoking an identity revokes each of them by jti
 * (and they stay revoked when the identity is reinstated).
 */
public interface MintedTokenRepository {

    /**
     * Records a minted token with the audit record of its minting, in one transaction ordered with
     * any revocation of its identity: refused with a {@link dev.lanyard.refusal.RefusedInTransaction}
     * when the identity or one of {@code presentedSerials} (the caller's certificate; the node agent's
     * that asks for a workload) is revoked or the identity has no registration.
     * Returns at once: the future completes when both are committed, or with what refused them.
     */
    java.util.concurrent.CompletableFuture<Void> record(String jti, SpiffeId spiffeId, Instant expiresAt, AuditEvent minting, List<String> presentedSerials);
}
