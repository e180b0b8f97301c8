package dev.lanyard.audit;

import dev.lanyard.crypto.Sha256;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The hash chain of the audit trail: each record's hash covers its fields and the previous
 * record's hash, so editing or deleting one record breaks every link after it. The server and
 * {@code lanyard audit verify} compute it the same way, here.
 */
public final class AuditChain {

    /** The "previous hash" of the first record. */
    public static final String GENESIS = "0".repeat(64);

    private AuditChain() {
    }

    /**
     * SHA-256 over the length-prefixed UTF-8 of id, time (epoch microseconds: what the database
     * keeps), actor, action, target, outcome, reason and the previous hash; lower-case hex.
     */
    public static String hash(long id, AuditEvent event, String previousHash) {
        MessageDigest sha256 = Sha256.digest();
        for (String field : new String[] {Long.toString(id), Long.toString(micros(event.time())), event.actor(),
                event.action(), event.target(), event.outcome().name(), event.reason(), previousHash}) {
            byte[] bytes = field.getBytes(StandardCharsets.UTF_8);
            sha256.update(ByteBuffer.allocate(4).putInt(bytes.length).array());
            sha256.update(bytes);
        }
        return HexFormat.of().formatHex(sha256.digest());
    }

    /** The time as stored: truncated to microseconds. */
    public static Instant stored(Instant time) {
        return time.truncatedTo(ChronoUnit.MICROS);
    }

    private static long micros(Instant time) {
        return ChronoUnit.MICROS.between(Instant.EPOCH, time);
    }

    /**
     * Checks records one at a time, oldest first, from the start of the trail: each must follow
     * the previous one without a gap, link to its hash, and hash to what it says.
     */
    public static final class Verifier {
        private long lastId;
        private String lastHash = GENESIS;
        private long count;

        /** From the start of the trail (record 1, linked to {@link AuditChain#GENESIS}). */
        public Verifier() {
        }

        /**
         * From the middle of the trail: the next record must be {@code lastId + 1} and link to
         * {@code lastHash} (the live chain after an archive, where the archive is not at hand).
         */
        public static Verifier continuing(long lastId, String lastHash) {
            Verifier verifier = new Verifier();
            verifier.lastId = lastId;
            verifier.lastHash = lastHash;
            return verifier;
        }

        /** Empty if {@code record} is intact and in place; otherwise what is wrong with the trail there. */
        public Optional<String> accept(AuditRecord record) {
            if (record.id() != lastId + 1) {
                return Optional.of(record.id() <= lastId
                        ? "record " + record.id() + " is out of order after record " + lastId
                        : (record.id() == lastId + 2 ? "record " + (lastId + 1) + " was deleted"
                                : "records " + (lastId + 1) + " to " + (record.id() - 1) + " were deleted"));
            }
            if (!record.previousHash().equals(lastHash)) {
                return Optional.of("record " + record.id() + " does not link to record " + lastId
                        + ": one of them was edited");
            }
            if (!hash(record.id(), record.event(), record.previousHash()).equals(record.hash())) {
                return Optional.of("record " + record.id() + " was edited: its contents do not match its hash");
            }
            lastId = record.id();
            lastHash = record.hash();
            count++;
            return Optional.empty();
        }

        public long count() {
            return count;
        }

        public long lastId() {
            return lastId;
        }

        public String lastHash() {
            return lastHash;
        }
    }
}
