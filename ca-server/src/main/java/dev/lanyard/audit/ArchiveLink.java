package dev.lanyard.audit;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How the live audit chain continues after records were moved to an archive file: the
 * {@value #ACTION} record written with the deletion names the range and the hash of its last record,
 * and the first live record must link to that hash. A live chain that starts after record 1
 * without such a record lost its start some other way.
 */
public final class ArchiveLink {

    /** The action of the record that names an archived range. */
    public static final String ACTION = "audit.archive";
    private static final Pattern NOTE = Pattern.compile(
            "records (\\d+) to (\\d+) moved to the file; the last one's hash is ([0-9a-f]{64})");

    private ArchiveLink() {
    }

    /** The reason of the {@value #ACTION} record for records {@code firstId..lastId}. */
    public static String note(long firstId, long lastId, String lastHash) {
        return "records " + firstId + " to " + lastId + " moved to the file; the last one's hash is " + lastHash;
    }

    /**
     * A verifier for a live chain whose first record is {@code firstId}: from the start when it is
     * record 1, otherwise continuing from the archive that ended just before it, as the latest
     * {@value #ACTION} record names it (that record is always live: it was written after the range it
     * names was deleted, and before any later range). Empty says what is wrong when none names it.
     */
    public static Verified verifierFor(AuditLog audit, long firstId) {
        if (firstId == 1) {
            return new Verified(Optional.of(new AuditChain.Verifier()), "");
        }
        List<AuditRecord> latest = audit.list(new AuditQuery(0, true, 1, Optional.empty(), Optional.of(ACTION),
                Optional.empty(), Optional.of(AuditEvent.Outcome.SUCCESS), Optional.empty(), Optional.empty()));
        Optional<Matcher> note = latest.stream().filter(r -> r.event().action().equals(ACTION)).findFirst()
                .map(r -> NOTE.matcher(r.event().reason())).filter(Matcher::matches)
                .filter(m -> Long.parseLong(m.group(2)) == firstId - 1);
        if (note.isEmpty()) {
            return new Verified(Optional.empty(), "the live chain starts at record " + firstId + " but no " + ACTION
                    + " record names record " + (firstId - 1) + " as the end of an archive (records were deleted"
                    + " some other way)");
        }
        return new Verified(Optional.of(AuditChain.Verifier.continuing(firstId - 1, note.get().group(3))), "");
    }

    /** A verifier, or why there is none. */
    public record Verified(Optional<AuditChain.Verifier> verifier, String problem) {
    }
}
