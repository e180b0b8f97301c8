package dev.lanyard.console;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditText;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.revocation.Revoker;
import java.util.Map;
import java.util.Optional;

/**
 * The console's state changes: revoke an identity (after a confirmation step) and reinstate one,
 * through the same {@link Revoker} as the gRPC RevocationService, audited with the same actions plus
 * channel=console (a success in the transaction of the change itself).
 */
final class Actions {

    /** A redirect after success, or a page (confirmation, refusal) with its status. */
    record Outcome(Optional<String> redirect, int status, String page) {
        static Outcome to(String location) {
            return new Outcome(Optional.of(location), 303, "");
        }
    }

    private final ConsoleSources sources;
    private final Confirmation confirmation;

    Actions(ConsoleSources sources, Sessions sessions) {
        this.sources = sources;
        this.confirmation = new Confirmation(sources);
    }

    /** "channel=console" and the detail, as the audit records of the console say it. */
    static String channel(String detail) {
        return "channel=console" + (detail.isEmpty() ? "" : "; " + detail);
    }

    Optional<Outcome> run(String path, Map<String, String> form, Sessions.Session session) {
        return switch (path) {
            case "/console/identities/revoke" -> Optional.of(revoke(form, session));
            case "/console/identities/reinstate" -> Optional.of(reinstate(form, session));
            default -> Optional.empty();
        };
    }

    private Outcome revoke(Map<String, String> form, Sessions.Session session) {
        String id = form.getOrDefault("spiffe_id", "");
        String note = form.getOrDefault("note", "");
        Optional<RevocationReason> reason = RevocationReason.parse(form.getOrDefault("reason", ""));
        if (reason.isEmpty()) {
            return refused(session, "revocation.revoke", id, "", Refusal.invalid("choose a revocation reason"));
        }
        String detail = reason.get().rfcName() + (note.isEmpty() ? "" : ": " + note);
        try {
            // what the revocation would refuse is refused before the page that asks to confirm it
            RevocationTarget target = RevocationTarget.spiffeId(id);
            Revoker.checkNote(note);
            if (!"yes".equals(form.get("confirm"))) {
                return new Outcome(Optional.empty(), 200, confirmation.page(id, reason.get(), note, session));
            }
            Revoker.Result result = sources.revoker().revoke(target, reason.get(), note, false,
                    event(session, "revocation.revoke", target.toString(), AuditEvent.Outcome.SUCCESS, detail));
            if (result.created()) {
                sources.onRevoked().accept(target.kind());
            }
            return Outcome.to("/console/identities?done=" + Forms.encode("revoked " + id + " ("
                    + result.revokedSerials().size() + " live certificates)"));
        } catch (Refusal e) {
            return refused(session, "revocation.revoke", id, detail, e);
        } catch (IllegalArgumentException e) {
            return refused(session, "revocation.revoke", id, detail, Refusal.invalid(e.getMessage()));
        }
    }

    private Outcome reinstate(Map<String, String> form, Sessions.Session session) {
        String id = form.getOrDefault("spiffe_id", "");
        String note = form.getOrDefault("note", "");
        try {
            sources.revoker().reinstate(id, note,
                    event(session, "revocation.reinstate", id, AuditEvent.Outcome.SUCCESS, note));
            return Outcome.to("/console/identities?done=" + Forms.encode("reinstated " + id));
        } catch (Refusal e) {
            return refused(session, "revocation.reinstate", id, note, e);
        }
    }

    private Outcome refused(Sessions.Session session, String action, String target, String detail, Refusal e) {
        // every console action names a spiffe_id: one that does not parse is named by its length only
        record(session, action, AuditText.spiffeId(target), AuditEvent.Outcome.REFUSED, e.code() + ": " + e.getMessage());
        int status = switch (e.code()) {
            case NOT_FOUND -> 404;
            case PERMISSION_DENIED -> 403;
            case FAILED_PRECONDITION -> 409;
            case UNAVAILABLE -> 503;
            default -> 400;
        };
        return new Outcome(Optional.empty(), status, Html.page("Refused", session.grant().adminId(),
                "<p role=\"alert\" class=\"bad\">" + Html.esc(e.getMessage()) + "</p>"
                        + "<p><a href=\"/console/identities\">Back to identities</a></p>"));
    }

    private void record(Sessions.Session session, String action, String target, AuditEvent.Outcome outcome,
            String detail) {
        sources.audit().record(event(session, action, target, outcome, detail));
    }

    private AuditEvent event(Sessions.Session session, String action, String target, AuditEvent.Outcome outcome,
            String detail) {
        return new AuditEvent(sources.clock().instant(), session.grant().adminId(), action, target, outcome,
                channel(detail));
    }
}
