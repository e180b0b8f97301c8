package dev.lanyard.console;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Audit records filtered by actor, action, target and time, newest first; and the chain's verification on request. */
final class AuditPage {

    private static final int SHOWN = 200;
    private static final Instant FIRST = Instant.parse("0001-01-01T00:00:00Z");
    private static final Instant LAST = Instant.parse("9999-12-31T23:59:59.999999999Z");
    private final ConsoleSources sources;
    private final ChainCheck chain;

    AuditPage(ConsoleSources sources) {
        this.sources = sources;
        this.chain = new ChainCheck(sources.audit());
    }

    String body(Map<String, String> query) {
        StringBuilder b = new StringBuilder();
        b.append("<form method=\"get\" action=\"/console/audit\" role=\"search\">")
                .append(field("actor", "Actor", query)).append(field("action", "Action starts with", query))
                .append(field("target", "Target", query)).append(field("since", "Since (UTC)", query))
                .append(field("until", "Until (UTC)", query))
                .append("<button type=\"submit\">Filter</button></form>");
        b.append("<p><a href=\"/console/audit?verify=1\">Verify the hash chain</a></p>");
        if ("1".equals(query.get("verify"))) {
            b.append(chain.verify());
        }
        Optional<Instant> since;
        Optional<Instant> until;
        try {
            since = time(query.get("since"));
            until = time(query.get("until"));
        } catch (DateTimeParseException e) {
            return b.append("<p role=\"alert\" class=\"bad\">Times are UTC, as 2026-11-30T18:00 or"
                    + " 2026-11-30T18:00:00Z, in the years 1 to 9999.</p>").toString();
        }
        List<AuditRecord> records = sources.audit().list(new AuditQuery(0, true, SHOWN, text(query, "actor"),
                text(query, "action"), text(query, "target"), Optional.empty(), since, until));
        b.append("<table><caption>Audit records, newest first (at most ").append(SHOWN).append(")</caption>")
                .append("<thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time</th><th scope=\"col\">Actor</th>")
                .append("<th scope=\"col\">Action</th><th scope=\"col\">Target</th><th scope=\"col\">Outcome</th>")
                .append("<th scope=\"col\">Detail</th></tr></thead><tbody>");
        for (AuditRecord r : records) {
            AuditEvent e = r.event();
            b.append("<tr><td>").append(r.id()).append("</td><td>").append(Html.time(e.time())).append("</td><td><code>")
                    .append(Html.esc(e.actor())).append("</code></td><td>").append(Html.esc(e.action()))
                    .append("</td><td>").append(Html.esc(e.target())).append("</td><td>").append(Html.esc(e.outcome()))
                    .append("</td><td>").append(Html.esc(e.reason())).append("</td></tr>");
        }
        return b.append("</tbody></table>").toString();
    }

    private static String field(String name, String label, Map<String, String> query) {
        return "<label>" + label + " <input name=\"" + name + "\" value=\"" + Html.esc(query.getOrDefault(name, ""))
                + "\" maxlength=\"2048\"></label>";
    }

    private static Optional<String> text(Map<String, String> query, String name) {
        String value = query.getOrDefault(name, "").trim();
        return value.isEmpty() ? Optional.empty() : Optional.of(value);
    }

    /**
     * "2026-11-30T18:00:00Z" or, as a datetime-local field sends it, "2026-11-30T18:00" (read as UTC), in
     * the years 1 to 9999 the store can compare (java.time reads a billion years either way).
     */
    static Optional<Instant> time(String text) {
        if (text == null || text.isBlank()) {
            return Optional.empty();
        }
        String t = text.trim();
        Instant time = t.endsWith("Z") ? Instant.parse(t) : LocalDateTime.parse(t).toInstant(ZoneOffset.UTC);
        if (time.isBefore(FIRST) || time.isAfter(LAST)) {
            throw new DateTimeParseException("outside the years 1 to 9999", t, 0);
        }
        return Optional.of(time);
    }
}
