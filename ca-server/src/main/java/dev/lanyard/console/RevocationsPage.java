package dev.lanyard.console;

import dev.lanyard.revocation.Revocation;
import java.util.List;

/** The revocations in force, newest first. */
final class RevocationsPage {

    private static final int SHOWN = 500;
    private final ConsoleSources sources;

    RevocationsPage(ConsoleSources sources) {
        this.sources = sources;
    }

    String body() {
        List<Revocation> all = sources.revocations().inForce();
        StringBuilder b = new StringBuilder("<p>").append(all.size()).append(" revocation(s) in force")
                .append(all.size() > SHOWN ? ", the newest " + SHOWN + " shown" : "").append(".</p>");
        b.append("<table><caption>Revocations in force</caption><thead><tr><th scope=\"col\">#</th>")
                .append("<th scope=\"col\">Kind</th><th scope=\"col\">Target</th><th scope=\"col\">Identity</th>")
                .append("<th scope=\"col\">Reason</th><th scope=\"col\">Note</th><th scope=\"col\">Revoked</th>")
                .append("<th scope=\"col\">By</th><th scope=\"col\">Matters until</th></tr></thead><tbody>");
        for (int i = all.size() - 1; i >= Math.max(0, all.size() - SHOWN); i--) {
            Revocation r = all.get(i);
            b.append("<tr><td>").append(r.sequence()).append("</td><td>").append(Html.esc(r.target().kind()))
                    .append("</td><td><code>").append(Html.esc(r.target().value())).append("</code></td><td><code>")
                    .append(Html.esc(r.spiffeId())).append("</code></td><td>").append(Html.esc(r.reason().rfcName()))
                    .append("</td><td>").append(Html.esc(r.note())).append("</td><td>").append(Html.time(r.revokedAt()))
                    .append("</td><td><code>").append(Html.esc(r.revokedBy())).append("</code></td><td>")
                    .append(r.expiresAt().map(Html::time).orElse("until reinstated")).append("</td></tr>");
        }
        return b.append("</tbody></table>").toString();
    }
}
