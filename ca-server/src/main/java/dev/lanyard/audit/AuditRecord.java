package dev.lanyard.audit;

import java.util.Objects;

/** An audit event as stored: its place in the trail and its link in the hash chain. */
public record AuditRecord(long id, AuditEvent event, String previousHash, String hash) {

    public AuditRecord {
        Objects.requireNonNull(event, "event");
        Objects.requireNonNull(previousHash, "previousHash");
        Objects.requireNonNull(hash, "hash");
    }
}
