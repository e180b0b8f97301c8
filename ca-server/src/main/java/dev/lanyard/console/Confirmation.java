package dev.lanyard.console;

import dev.lanyard.revocation.RevocationReason;
import dev.lanyard.spiffe.SpiffeId;

/** The page that asks "revoke this identity?" and names what the revocation will take away. */
final class Confirmation {

    private final ConsoleSources sources;

    Confirmation(ConsoleSources sources) {
        this.sources = sources;
    }

    String page(String id, RevocationReason reason, String note, Sessions.Session session) {
        int live;
        boolean registered;
        try {
            SpiffeId parsed = SpiffeId.parse(id);
            live = sources.issued().live(parsed, sources.clock().instant()).size();
            registered = sources.registrations().find(parsed).isPresent();
        } catch (IllegalArgumentException e) {
            live = 0;
            registered = false;
        }
        String body = "<p>Revoke <code>" + Html.esc(id) + "</code> for <strong>" + Html.esc(reason.rfcName())
                + "</strong>?</p><p>Its " + live + " live certificate(s) and its tokens are revoked with it, and it can"
                + " no longer bootstrap, renew or get tokens until an admin reinstates it.</p>"
                + (registered ? "" : "<p class=\"bad\">This SPIFFE ID has no registration.</p>")
                + "<form method=\"post\" action=\"/console/identities/revoke\">" + Html.csrf(session)
                + hidden("spiffe_id", id) + hidden("reason", reason.rfcName()) + hidden("note", note)
                + hidden("confirm", "yes")
                + "<button type=\"submit\">Confirm revocation</button></form>"
                + "<p><a href=\"/console/identities\">Cancel</a></p>";
        return Html.page("Confirm revocation", session.grant().adminId(), body);
    }

    private static String hidden(String name, String value) {
        return "<input type=\"hidden\" name=\"" + name + "\" value=\"" + Html.esc(value) + "\">";
    }

}
