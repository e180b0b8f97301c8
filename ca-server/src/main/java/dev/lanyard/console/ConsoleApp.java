package dev.lanyard.console;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditText;
import dev.lanyard.publication.WebApp;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.rpc.OncePerMinute;
import dev.lanyard.spiffe.SpiffeId;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The admin console under /console: login by link, then pages and actions for the session's admin.
 * Every request is checked against revocation like an admin RPC (a revoked admin's session ends),
 * every state change needs the session's CSRF token, and every view and action is audited with the
 * admin's SPIFFE ID and channel=console.
 */
public final class ConsoleApp implements WebApp {

    static final String COOKIE = "lanyard_console";
    /** What a console page's path looks like: lower-case words under /console, neither a JWT nor a join token. */
    private static final Pattern CONSOLE_PATH = Pattern.compile("/console(/[a-z0-9-]{1,40}){0,4}/?");

    private final ConsoleSources sources;
    private final LoginLinks links;
    private final Sessions sessions;
    private final boolean secure;
    private final String csp;
    private final Pages pages;
    private final Actions actions;
    /** Refused login links are recorded once per window, so a flood of guesses cannot fill the trail. */
    private final OncePerMinute refusedLinks;

    /** @param secure the console is served over HTTPS: the cookie gets {@code Secure} */
    public ConsoleApp(ConsoleSources sources, LoginLinks links, Sessions sessions, boolean secure) {
        this.sources = sources;
        this.links = links;
        this.sessions = sessions;
        this.secure = secure;
        this.csp = "default-src 'none'; style-src '" + sha256(Html.styleSheet()) + "'; form-action 'self';"
                + " frame-ancestors 'none'; base-uri 'none'";
        this.pages = new Pages(sources);
        this.actions = new Actions(sources, sessions);
        this.refusedLinks = new OncePerMinute(sources.clock());
    }

    @Override
    public Response handle(Request request) {
        if (request.path().equals("/console/login")) {
            return login(request);
        }
        Optional<Sessions.Session> found = sessions.find(Forms.cookie(request.headers().get("cookie"), COOKIE));
        if (found.isEmpty()) {
            return page(401, "Not signed in", null, "<p>There is no console session here, or it has expired."
                    + " Run <code>lanyard console</code> for a new login link.</p>");
        }
        Sessions.Session session = found.get();
        Optional<Revocation> revoked = revoked(session.grant());
        if (revoked.isPresent()) {
            sessions.close(session);
            audit(session, "console.request", pathForAudit(request.path()), AuditEvent.Outcome.REFUSED,
                    revoked.get().refusalMessage());
            return page(403, "Access revoked", null, "<p>" + Html.esc(revoked.get().refusalMessage()) + "</p>");
        }
        return switch (request.method()) {
            case "GET", "HEAD" -> view(session, request);
            case "POST" -> change(session, request);
            default -> page(405, "Method not allowed", session.grant().adminId(), "");
        };
    }

    private Response login(Request request) {
        Optional<LoginLinkRepository.Grant> grant = links.redeem(
                Forms.parse(request.query()).getOrDefault("t", ""));
        if (grant.isEmpty()) {
            auditRefusedLink();
            return loginRefused("<p>This login link is unknown, used already or expired"
                    + " (a link works once, within " + LoginLinks.VALIDITY.toSeconds() + " s)."
                    + " Run <code>lanyard console</code> for a new one.</p>");
        }
        // The link was good when minted; the admin may have been revoked, or its certificate expired, since.
        Optional<String> refusal = revoked(grant.get()).map(Revocation::refusalMessage)
                .or(() -> sources.clock().instant().isBefore(grant.get().adminNotAfter()) ? Optional.empty()
                        : Optional.of("the certificate this link was made with (serial "
                                + grant.get().adminSerialHex() + ") has expired"));
        if (refusal.isPresent()) {
            audit(grant.get(), "console.login", "", AuditEvent.Outcome.REFUSED, refusal.get());
            return loginRefused("<p>" + Html.esc(refusal.get()) + ".</p>");
        }
        Sessions.Opened opened = sessions.open(grant.get());
        audit(grant.get(), "console.login", "session until " + opened.session().expiresAt(),
                AuditEvent.Outcome.SUCCESS, "");
        long maxAge = Duration.between(sources.clock().instant(), opened.session().expiresAt()).toSeconds();
        return redirect("/console/", List.of(Map.entry("Set-Cookie", COOKIE + "=" + opened.cookie()
                + "; Path=/console; HttpOnly; SameSite=Strict; Max-Age=" + maxAge + (secure ? "; Secure" : ""))));
    }

    private Response loginRefused(String body) {
        return page(403, "Login link refused", null, body);
    }

    private Response view(Sessions.Session session, Request request) {
        Map<String, String> query = Forms.parse(request.query());
        Optional<String> body = pages.render(request.path(), query, session);
        if (body.isEmpty()) {
            return page(404, "Not found", session.grant().adminId(), "<p>No such console page.</p>");
        }
        audit(session, "console.view", request.path(), AuditEvent.Outcome.SUCCESS, "");
        return html(200, body.get());
    }

    private Response change(Sessions.Session session, Request request) {
        Map<String, String> form = Forms.parse(new String(request.body(), StandardCharsets.UTF_8));
        if (!Sessions.csrfMatches(session, form.get("csrf"))) {
            audit(session, "console.request", pathForAudit(request.path()), AuditEvent.Outcome.REFUSED,
                    "the form's CSRF token is missing or not this session's");
            return page(403, "Request refused", session.grant().adminId(), "<p>This form did not come from"
                    + " your console session (its CSRF token does not match). Reload the page and try again.</p>");
        }
        if (request.path().equals("/console/logout")) {
            sessions.close(session);
            audit(session, "console.logout", "", AuditEvent.Outcome.SUCCESS, "");
            return redirect("/console/", List.of(Map.entry("Set-Cookie", COOKIE
                    + "=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0" + (secure ? "; Secure" : ""))));
        }
        Optional<Actions.Outcome> outcome = actions.run(request.path(), form, session);
        if (outcome.isEmpty()) {
            return page(404, "Not found", session.grant().adminId(), "<p>No such console action.</p>");
        }
        return outcome.get().redirect().isPresent() ? redirect(outcome.get().redirect().get(), List.of())
                : html(outcome.get().status(), outcome.get().page());
    }

    /** Whether the admin, by identity or by the certificate its login link was made with, is revoked. */
    private Optional<Revocation> revoked(LoginLinkRepository.Grant grant) {
        return sources.revocations().refusalFor(SpiffeId.parse(grant.adminId()), Optional.of(grant.adminSerialHex()));
    }

    /**
     * A refused request's path as an audit target: named when it has the shape of a console page, by its
     * length otherwise (it is the browser's text, and could be anything pasted into the address bar).
     */
    static String pathForAudit(String path) {
        return CONSOLE_PATH.matcher(path).matches() ? path : AuditText.invalid("path", path);
    }

    /**
     * A link that opened nothing: recorded without the link (its text is a guess or a secret that may
     * still be in someone's history), the first of each window, with the count of those left out.
     */
    private void auditRefusedLink() {
        refusedLinks.admit("console.login").ifPresent(left -> sources.audit().record(new AuditEvent(
                sources.clock().instant(), "anonymous", "console.login", "", AuditEvent.Outcome.REFUSED,
                Actions.channel("an unknown, used or expired login link" + (left > 0 ? " (" + left
                        + " more in the previous window were counted, not recorded)" : "")
                        + "; further ones in the next " + OncePerMinute.QUIET.toSeconds()
                        + " s are counted, not recorded"))));
    }

    private void audit(Sessions.Session session, String action, String target, AuditEvent.Outcome outcome,
            String detail) {
        audit(session.grant(), action, target, outcome, detail);
    }

    private void audit(LoginLinkRepository.Grant grant, String action, String target, AuditEvent.Outcome outcome,
            String detail) {
        sources.audit().record(new AuditEvent(sources.clock().instant(), grant.adminId(), action, target,
                outcome, Actions.channel(detail)));
    }

    private Response page(int status, String title, String admin, String body) {
        return html(status, Html.page(title, admin, body));
    }

    private Response html(int status, String page) {
        return new Response(status, "text/html; charset=utf-8", page.getBytes(StandardCharsets.UTF_8), headers());
    }

    private Response redirect(String location, List<Map.Entry<String, String>> extra) {
        List<Map.Entry<String, String>> headers = new ArrayList<>(headers());
        headers.add(Map.entry("Location", location));
        headers.addAll(extra);
        return new Response(303, "text/plain; charset=utf-8", new byte[0], headers);
    }

    private List<Map.Entry<String, String>> headers() {
        return List.of(Map.entry("Content-Security-Policy", csp), Map.entry("Cache-Control", "no-store"),
                Map.entry("Referrer-Policy", "no-referrer"), Map.entry("X-Frame-Options", "DENY"));
    }

    private static String sha256(String text) {
        try {
            return "sha256-" + Base64.getEncoder().encodeToString(
                    MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
