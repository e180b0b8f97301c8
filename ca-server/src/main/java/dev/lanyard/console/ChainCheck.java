package dev.lanyard.console;

import dev.lanyard.audit.ArchiveLink;
import dev.lanyard.audit.AuditChain;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.util.List;
import java.util.Optional;

/**
 * Verifies the live audit chain a page at a time, oldest first, and says where it first breaks. A
 * chain whose oldest records were archived must start where the audit.archive record says the archive ends.
 */
final class ChainCheck {

    private static final int PAGE = 1_000;
    private final AuditLog audit;

    ChainCheck(AuditLog audit) {
        this.audit = audit;
    }

    /** The verdict as HTML. */
    String verify() {
        AuditChain.Verifier verifier = null;
        long after = 0;
        long first = 0;
        while (true) {
            List<AuditRecord> page = audit.list(AuditQuery.all(after, PAGE));
            for (AuditRecord record : page) {
                if (verifier == null) {
                    first = record.id();
                    ArchiveLink.Verified start = ArchiveLink.verifierFor(audit, first);
                    if (start.verifier().isEmpty()) {
                        return broken(start.problem(), first);
                    }
                    verifier = start.verifier().get();
                }
                Optional<String> broken = verifier.accept(record);
                if (broken.isPresent()) {
                    return broken(broken.get(), record.id());
                }
            }
            if (page.size() < PAGE) {
                break;
            }
            after = page.get(page.size() - 1).id();
        }
        if (verifier == null) {
            return "<p>The audit trail is empty.</p>";
        }
        return "<p role=\"status\" class=\"ok\">The chain is intact: " + verifier.count() + " records, #" + first
                + " to #" + verifier.lastId() + (first > 1 ? " (older records are archived)" : "")
                + ", last hash <code>" + Html.esc(verifier.lastHash()) + "</code>.</p>";
    }

    private static String broken(String problem, long id) {
        return "<p role=\"alert\" class=\"bad\">The chain is broken: " + Html.esc(problem)
                + ". The first broken record is #" + id + ".</p>";
    }
}
