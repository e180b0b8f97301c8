package dev.lanyard.audit;

import java.time.Instant;
import java.util.Objects;

/**
 * One append-only audit record. Never holds key material, join tokens or JWTs: targets
 * are SPIFFE IDs, serial numbers, token ids.
 *
 * @param actor  who acted: a SPIFFE ID, "anonymous" for an unauthenticated caller, or "lanyard" for the server itself
 * @param action what was attempted, e.g. "certificate.issue", "registration.create"
 * @param target what it was done to, e.g. a SPIFFE ID or serial
 * @param reason why it was refused (empty on success)
 */
public record AuditEvent(Instant time, String actor, String action, String target, Outcome outcome, String reason) {

    public enum Outcome { SUCCESS, REFUSED, FAILED }

    public AuditEvent {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(actor, "actor");
        Objects.requireNonNull(action, "action");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(outcome, "outcome");
        reason = reason == null ? "" : reason;
    }
}
