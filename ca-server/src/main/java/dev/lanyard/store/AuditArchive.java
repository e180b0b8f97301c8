package dev.lanyard.store;

import dev.lanyard.audit.ArchiveLink;
import dev.lanyard.audit.AuditArchiveFile;
import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Moves the oldest part of the audit chain to a file: the records are read and checked, written
 * and synced to the file, and only then deleted, if the last of them still has the hash the file
 * ends with, in the same transaction as an audit record that names the range, the file and that
 * hash. The live chain then starts where the file ends; `lanyard audit verify --archive FILE`
 * checks both as one chain. Nothing is dropped without a file that holds it.
 */
public final class AuditArchive {

    /** What was archived. */
    public record Result(long firstId, long lastId, String lastHash) {
        public long count() {
            return lastId - firstId + 1;
        }
    }

    private final JdbcAuditLog audit;
    private final Clock clock;

    public AuditArchive(JdbcAuditLog audit, Clock clock) {
        this.audit = audit;
        this.clock = clock;
    }

    /**
     * Archives every live record with an id below {@code beforeId} into {@code file} (which must not
     * exist yet), then deletes them from the database.
     *
     * @param actor who archives, for the audit record
     * @throws IllegalArgumentException if there is nothing below {@code beforeId}, or the range does
     *                                  not verify (a broken chain is not archived: it would hide where)
     */
    public Result archive(long beforeId, Path file, String actor) throws IOException {
        List<AuditRecord> records = new ArrayList<>();
        long after = 0;
        while (true) {
            List<AuditRecord> page = audit.list(AuditQuery.all(after, 1000));
            boolean done = page.isEmpty();
            for (AuditRecord r : page) {
                if (r.id() >= beforeId) {
                    done = true;
                    break;
                }
                records.add(r);
                after = r.id();
            }
            if (done) {
                break;
            }
        }
        if (records.isEmpty()) {
            throw new IllegalArgumentException("no live audit records below id " + beforeId + " to archive");
        }
        checkChain(records);
        AuditArchiveFile.write(file, records);
        AuditRecord last = records.get(records.size() - 1);
        Result result = new Result(records.get(0).id(), last.id(), last.hash());
        audit.record(new AuditEvent(clock.instant(), actor, ArchiveLink.ACTION, file.toAbsolutePath().toString(),
                AuditEvent.Outcome.SUCCESS, ArchiveLink.note(result.firstId(), result.lastId(), result.lastHash())),
                c -> {
                    List<String> hash = Jdbc.query(c, "select hash from audit_events where id = ?",
                            s -> s.setLong(1, last.id()), row -> row.getString(1));
                    if (!hash.equals(List.of(last.hash()))) {
                        throw new SQLException("record " + last.id() + " changed while it was archived", "22000");
                    }
                    return Jdbc.update(c, "delete from audit_events where id <= ?", s -> s.setLong(1, last.id()));
                });
        return result;
    }

    /** Records must link to each other; the first to GENESIS or to an earlier archive's last hash. */
    private void checkChain(List<AuditRecord> records) {
        ArchiveLink.Verified start = ArchiveLink.verifierFor(audit, records.get(0).id());
        AuditChain.Verifier verifier = start.verifier().orElseThrow(() -> new IllegalArgumentException(
                "the audit chain is broken, not archiving it: " + start.problem()));
        for (AuditRecord r : records) {
            Optional<String> broken = verifier.accept(r);
            if (broken.isPresent()) {
                throw new IllegalArgumentException("the audit chain is broken, not archiving it: " + broken.get());
            }
        }
    }
}
