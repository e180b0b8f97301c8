package dev.lanyard.console;

import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.registration.Registration;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationTarget;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Registrations a page at a time, each with its live certificates and a revoke or reinstate form. */
final class IdentitiesPage {

    private static final int PAGE = 50;
    private final ConsoleSources sources;

    IdentitiesPage(ConsoleSources sources) {
        this.sources = sources;
    }

    String body(Map<String, String> query, Sessions.Session session) {
        StringBuilder b = new StringBuilder();
        String done = query.getOrDefault("done", "");
        if (!done.isEmpty()) {
            b.append("<p role=\"status\" class=\"ok\">Done: ").append(Html.esc(done)).append("</p>");
        }
        String after = query.getOrDefault("after", "");
        List<Registration> page = sources.registrations().list(after.isEmpty() ? null : after, PAGE + 1);
        Instant now = sources.clock().instant();
        b.append("<table><caption>Registrations</caption><thead><tr><th scope=\"col\">SPIFFE ID</th>")
                .append("<th scope=\"col\">DNS names</th><th scope=\"col\">Max TTL</th><th scope=\"col\">Live certificates</th>")
                .append("<th scope=\"col\">State</th><th scope=\"col\">Action</th></tr></thead><tbody>");
        for (Registration r : page.subList(0, Math.min(PAGE, page.size()))) {
            String id = r.spiffeId().toString();
            Optional<Revocation> revoked = sources.revocations().find(RevocationTarget.spiffeId(id));
            b.append("<tr><td><code>").append(Html.esc(id)).append("</code></td><td>")
                    .append(Html.esc(String.join(", ", r.dnsNames()))).append("</td><td>")
                    .append(Html.esc(r.maxTtl())).append("</td><td>")
                    .append(certificates(sources.issued().live(r.spiffeId(), now))).append("</td><td>")
                    .append(revoked.map(v -> "<span class=\"bad\">revoked</span> (" + Html.esc(v.describe()) + ")")
                            .orElse("<span class=\"ok\">active</span>"))
                    .append("</td><td>").append(revoked.isPresent() ? reinstateForm(id, session) : revokeForm(id, session))
                    .append("</td></tr>");
        }
        b.append("</tbody></table>");
        if (page.size() > PAGE) {
            b.append("<p><a href=\"/console/identities?after=")
                    .append(Html.esc(Forms.encode(page.get(PAGE - 1).spiffeId().toString())))
                    .append("\">Next page</a></p>");
        }
        return b.toString();
    }

    private static String certificates(List<IssuedCertificateRecord> live) {
        if (live.isEmpty()) {
            return "none";
        }
        StringBuilder b = new StringBuilder("<ul>");
        for (IssuedCertificateRecord c : live) {
            b.append("<li>serial <code>").append(Html.esc(c.serialHex())).append("</code>, until ")
                    .append(Html.time(c.notAfter())).append("</li>");
        }
        return b.append("</ul>").toString();
    }

    private static String revokeForm(String id, Sessions.Session session) {
        StringBuilder b = new StringBuilder("<form method=\"post\" action=\"/console/identities/revoke\">")
                .append(Html.csrf(session)).append("<input type=\"hidden\" name=\"spiffe_id\" value=\"")
                .append(Html.esc(id)).append("\"><label>Reason <select name=\"reason\" required>");
        for (RevocationReason reason : RevocationReason.values()) {
            b.append("<option value=\"").append(reason.rfcName()).append("\">").append(reason.rfcName()).append("</option>");
        }
        return b.append("</select></label><label>Note <input name=\"note\" maxlength=\"1024\"></label>")
                .append("<button type=\"submit\" aria-label=\"Revoke ").append(Html.esc(id))
                .append("\">Revoke…</button></form>").toString();
    }

    private static String reinstateForm(String id, Sessions.Session session) {
        return "<form method=\"post\" action=\"/console/identities/reinstate\">" + Html.csrf(session)
                + "<input type=\"hidden\" name=\"spiffe_id\" value=\"" + Html.esc(id) + "\">"
                + "<label>Note <input name=\"note\" maxlength=\"1024\"></label>"
                + "<button type=\"submit\" aria-label=\"Reinstate " + Html.esc(id) + "\">Reinstate</button></form>";
    }
}
