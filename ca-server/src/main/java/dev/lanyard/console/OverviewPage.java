package dev.lanyard.console;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.v1.KeyInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Keys with their state and next step, how long the issuing CA has left, and the last hour's
 * issuance and refusal counts (read from the audit trail, which records every one).
 */
final class OverviewPage {

    private final ConsoleSources sources;

    OverviewPage(ConsoleSources sources) {
        this.sources = sources;
    }

    String body() {
        Instant now = sources.clock().instant();
        Instant caEnd = sources.issuingCaNotAfter().get();
        Duration horizon = Duration.between(now, caEnd);
        StringBuilder b = new StringBuilder();
        b.append("<h2>Issuing CA</h2><p>The active issuing CA expires ").append(Html.time(caEnd)).append(", in ")
                .append(horizon.toDays()).append(" days ").append(horizon.toHoursPart()).append(" hours.</p>");
        b.append("<h2>Keys</h2><table><caption>CA and JWT signing keys</caption><thead><tr>")
                .append("<th scope=\"col\">Kind</th><th scope=\"col\">Key ID</th><th scope=\"col\">State</th>")
                .append("<th scope=\"col\">Algorithm</th><th scope=\"col\">Next step</th><th scope=\"col\">At</th>")
                .append("</tr></thead><tbody>");
        for (KeyInfo key : sources.keys().get().getKeysList()) {
            b.append("<tr><td>").append(key.getKind() == dev.lanyard.v1.KeyKind.KEY_KIND_JWT ? "JWT" : "X.509 CA")
                    .append("</td><td><code>").append(Html.esc(key.getKeyId())).append("</code></td><td>")
                    .append(Html.esc(key.getStatus())).append("</td><td>").append(Html.esc(key.getAlgorithm()))
                    .append("</td><td>").append(Html.esc(key.getNextStep())).append("</td><td>")
                    .append(key.hasNextStepAt() ? Html.time(Instant.ofEpochSecond(key.getNextStepAt().getSeconds())) : "")
                    .append("</td></tr>");
        }
        b.append("</tbody></table><h2>The last hour</h2><table><caption>Issuance and refusals since ")
                .append(Html.time(now.minus(Duration.ofHours(1)))).append("</caption><thead><tr>")
                .append("<th scope=\"col\">What</th><th scope=\"col\">Issued</th><th scope=\"col\">Refused</th>")
                .append("</tr></thead><tbody>");
        row(b, "Certificates", "certificate.", now);
        row(b, "Tokens", "token.issue", now);
        return b.append("</tbody></table>").toString();
    }

    private void row(StringBuilder b, String what, String actionPrefix, Instant now) {
        b.append("<tr><td>").append(what).append("</td><td>")
                .append(count(actionPrefix, AuditEvent.Outcome.SUCCESS, now)).append("</td><td>")
                .append(count(actionPrefix, AuditEvent.Outcome.REFUSED, now)).append("</td></tr>");
    }

    private long count(String actionPrefix, AuditEvent.Outcome outcome, Instant now) {
        return sources.audit().count(new AuditQuery(0, true, 0, Optional.empty(), Optional.of(actionPrefix),
                Optional.empty(), Optional.of(outcome), Optional.of(now.minus(Duration.ofHours(1))), Optional.empty()));
    }
}
