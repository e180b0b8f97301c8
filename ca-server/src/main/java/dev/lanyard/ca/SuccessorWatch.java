package dev.lanyard.ca;

import dev.lanyard.rotation.KeyStatus;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Says when an operator must act for the issuing CA to rotate: its scheduled hand-over (the
 * midpoint of its validity, or the configured lifetime) is less than the horizon away and no
 * successor is prepared, while the server cannot make one itself (the root key is offline); or the
 * hand-over is overdue whatever the custody. The horizon is {@code ca.successor-warning}, by default a
 * third of the active intermediate's lifetime (about 122 days of a 365-day intermediate, so the
 * warning starts near day 61, four months before the hand-over at day 182 and ten before it expires).
 */
public final class SuccessorWatch {

    private final CaRotation rotation;
    private final Clock clock;
    private final Optional<Duration> horizon;

    public SuccessorWatch(CaRotation rotation, Clock clock, Optional<Duration> horizon) {
        this.rotation = rotation;
        this.clock = clock;
        this.horizon = horizon;
    }

    /** The warning for `keys list` and the console; empty when nothing needs doing. */
    public Optional<String> warning() {
        List<StoredCaKey> rows = rotation.intermediates();
        if (rows.stream().anyMatch(k -> k.status() == KeyStatus.PREPARED)) {
            return Optional.empty();
        }
        Optional<StoredCaKey> active = rows.stream().filter(k -> k.status() == KeyStatus.ACTIVE)
                .reduce((older, newer) -> newer);
        if (active.isEmpty()) {
            return Optional.empty();
        }
        X509Certificate certificate = rotation.store().certificate(active.get());
        Instant notAfter = certificate.getNotAfter().toInstant();
        Duration lifetime = Duration.between(certificate.getNotBefore().toInstant(), notAfter);
        Instant handOver = rotation.planner().end(rotation.slot(active.get()));
        Instant now = clock.instant();
        boolean offline = rotation.trustedRoots().stream().noneMatch(CaCertificate::hasSigner);
        boolean overdue = !now.isBefore(handOver);
        boolean near = offline && !now.isBefore(handOver.minus(horizon.orElse(lifetime.dividedBy(3))));
        if (!overdue && !near) {
            return Optional.empty();
        }
        String what = "issuing CA " + active.get().id() + " expires at " + notAfter + " (hand-over "
                + (overdue ? "overdue since " : "due at ") + handOver + ") and no successor is prepared";
        return Optional.of(what + (offline
                ? ": run `lanyard ca prepare`, sign the CSR with the offline root, `lanyard ca import-intermediate` it"
                : ": the server could not prepare one; see its log for the rotation tick's error"));
    }
}
