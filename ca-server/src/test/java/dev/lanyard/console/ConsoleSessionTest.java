package dev.lanyard.console;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditQuery;
import dev.lanyard.rpc.OncePerMinute;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.ThisHost;
import dev.lanyard.v1.ConsoleServiceGrpc;
import dev.lanyard.v1.CreateConsoleLoginRequest;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The console's session rules over plain HTTP (the browser flow is {@link ConsoleBrowserTest}). */
class ConsoleSessionTest {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @Test
    void aRevokedAdminsSessionStopsWorking(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir)) {
            String link = loginLink(server);
            assertThat(link).startsWith("http://127.0.0.1:" + server.server().httpPort() + "/console/login?t=");
            HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create(link)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(login.statusCode()).isEqualTo(303);
            String setCookie = login.headers().firstValue("set-cookie").orElseThrow();
            assertThat(setCookie).as("plain HTTP: a Secure cookie would never come back")
                    .contains("HttpOnly", "SameSite=Strict", "Path=/console").doesNotContain("Secure");
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            assertThat(get(server, cookie).statusCode()).isEqualTo(200);

            // Another admin credential is not at hand: the admin revokes its own certificate by serial.
            String serial = server.adminCredential().leaf().getSerialNumber().toString(16);
            server.revocations().revoke(RevokeRequest.newBuilder()
                    .setTarget(RevocationTarget.newBuilder().setSerial(serial)).setReasonValue(1).build());

            HttpResponse<String> after = get(server, cookie);
            assertThat(after.statusCode()).isEqualTo(403);
            assertThat(after.body()).contains("Access revoked").contains(serial);
            assertThat(server.server().audit().list(AuditQuery.all(0, 10_000))).anyMatch(r ->
                    r.event().action().equals("console.request") && r.event().reason().contains("is revoked"));
        }
    }

    @Test
    void aLinkWhoseAuditRecordCannotBeStoredIsNotMade(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir)) {
            var console = ConsoleServiceGrpc.newBlockingStub(server.channel(server.adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS);
            server.refuseAuditRecords("console.login-link");
            assertThatThrownBy(() -> console.createConsoleLogin(CreateConsoleLoginRequest.getDefaultInstance()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL));
            assertThat(server.rows("console_login_links")).as("a link nobody audited").isZero();

            server.refuseAuditRecords(null);
            String link = console.createConsoleLogin(CreateConsoleLoginRequest.getDefaultInstance()).getUrl();
            assertThat(server.rows("console_login_links")).isEqualTo(1);
            assertThat(http.send(HttpRequest.newBuilder(URI.create(link)).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(303);
            assertThat(server.server().audit().recent(50)).filteredOn(e -> e.action().equals("console.login-link"))
                    .singleElement().satisfies(e -> assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS));
        }
    }

    @Test
    void aLinkWithoutAConsoleIsRefusedAndPagesNeedASession(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir)) {
            HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(server.httpUrl("/console/audit")))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(401);
            assertThat(page.headers().firstValue("content-security-policy").orElseThrow()).startsWith("default-src 'none'");
            HttpResponse<String> forged = http.send(HttpRequest.newBuilder(URI.create(
                    server.httpUrl("/console/login?t=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(forged.statusCode()).isEqualTo(403);
            assertThat(forged.headers().firstValue("set-cookie")).isEmpty();
        }
    }

    /**
     * A link that opens nothing (unknown, or used already) is audited as a REFUSED console login, once
     * per throttle window under a flood, and neither the record nor any log line holds the link.
     */
    @Test
    void anUnknownOrUsedLinkIsAuditedOncePerWindowWithoutItsSecret(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir); LogCapture logs = new LogCapture()) {
            String unknown = "unknownLinkSecret0123456789abcdefghijklmnop";
            for (int i = 0; i < 5; i++) {
                assertThat(login(server.httpUrl("/console/login?t=" + unknown)).statusCode()).isEqualTo(403);
            }
            assertThat(refusedLogins(server)).as("five unknown links in one window").singleElement()
                    .satisfies(e -> assertThat(e.reason()).contains("channel=console", "unknown, used or expired"));

            server.clock().advance(OncePerMinute.QUIET.plusSeconds(1));
            String link = loginLink(server);
            String used = link.substring(link.indexOf("t=") + 2);
            assertThat(login(link).statusCode()).isEqualTo(303);
            for (int i = 0; i < 5; i++) {
                assertThat(login(link).statusCode()).as("a used link").isEqualTo(403);
            }
            List<AuditEvent> refused = refusedLogins(server);
            assertThat(refused).as("one per window: the unknown link's, then the used link's").hasSize(2);
            assertThat(refused).anySatisfy(e -> assertThat(e.reason()).contains("4 more in the previous window"));
            assertThat(server.server().audit().recent(500)).allSatisfy(e -> assertThat(e.toString())
                    .doesNotContain(unknown).doesNotContain(used));
            assertThat(logs.lines()).noneMatch(l -> l.contains(unknown) || l.contains(used));
        }
    }

    private List<AuditEvent> refusedLogins(RunningServer server) {
        return server.server().audit().recent(500).stream().filter(e -> e.action().equals("console.login")
                && e.outcome() == AuditEvent.Outcome.REFUSED && e.actor().equals("anonymous")).toList();
    }

    private HttpResponse<String> login(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aRevokedAdminsLinkOpensNoSession(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir)) {
            String link = loginLink(server);
            String serial = server.adminCredential().leaf().getSerialNumber().toString(16);
            server.revocations().revoke(RevokeRequest.newBuilder()
                    .setTarget(RevocationTarget.newBuilder().setSerial(serial)).setReasonValue(1).build());

            HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create(link)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(login.statusCode()).isEqualTo(403);
            assertThat(login.body()).contains("Login link refused").contains("certificate " + serial + " is revoked");
            assertThat(login.headers().firstValue("set-cookie")).as("no session").isEmpty();
            List<AuditEvent> logins = server.server().audit().recent(50).stream()
                    .filter(e -> e.action().equals("console.login")).toList();
            assertThat(logins).singleElement().satisfies(e -> {
                assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
                assertThat(e.actor()).isEqualTo(server.server().config().adminIds().get(0).toString());
                assertThat(e.reason()).contains("channel=console", "is revoked").doesNotContain(link.substring(
                        link.indexOf("t=") + 2));
            });
        }
    }

    @Test
    void overTlsTheLinkIsHttpsAndTheCookieSecure(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir, Map.of("http.tls", "spiffe"))) {
            String link = loginLink(server);
            assertThat(link).startsWith("https://127.0.0.1:" + server.server().httpPort() + "/console/login?t=");
            HttpClient https = server.httpsClient();
            HttpResponse<String> login = https.send(HttpRequest.newBuilder(URI.create(link)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(login.statusCode()).isEqualTo(303);
            String setCookie = login.headers().firstValue("set-cookie").orElseThrow();
            assertThat(setCookie).contains("HttpOnly", "SameSite=Strict", "Path=/console", "; Secure");
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            HttpResponse<String> page = https.send(HttpRequest.newBuilder(URI.create(link.substring(0,
                    link.indexOf("/console/")) + "/console/")).header("Cookie", cookie).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
        }
    }

    /**
     * Over TLS the console may listen beyond loopback: an admin on another host (this machine's
     * non-loopback address, the server bound to 0.0.0.0) gets a link at public-url, checks the server's
     * certificate for that name, logs in once with it, and browses with a Secure cookie.
     */
    @Test
    void overTlsAnotherHostLogsInAtThePublicUrl(@TempDir Path dir) throws Exception {
        String outside = ThisHost.nonLoopbackAddress();
        int port = ThisHost.freePort();
        try (RunningServer server = RunningServer.start(dir, Map.of("http.tls", "spiffe", "http.host", "0.0.0.0",
                "http.port", Integer.toString(port), "public-url", "https://" + outside + ":" + port,
                "server.dns-names", "localhost,127.0.0.1," + outside))) {
            String link = loginLink(server);
            assertThat(link).startsWith("https://" + outside + ":" + port + "/console/login?t=");
            HttpClient https = server.httpsClient(); // trusts the server's bundle and checks the name
            HttpResponse<String> login = https.send(HttpRequest.newBuilder(URI.create(link)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(login.statusCode()).isEqualTo(303);
            String setCookie = login.headers().firstValue("set-cookie").orElseThrow();
            assertThat(setCookie).contains("HttpOnly", "SameSite=Strict", "Path=/console", "; Secure");
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            URI overview = URI.create("https://" + outside + ":" + port + "/console/");
            assertThat(https.send(HttpRequest.newBuilder(overview).header("Cookie", cookie).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
            // the link was good once
            assertThat(https.send(HttpRequest.newBuilder(URI.create(link)).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(403);
            // and nothing of it is served in clear on that port
            assertThatThrownBy(() -> http.send(HttpRequest.newBuilder(URI.create("http://" + outside + ":" + port
                    + "/console/")).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(java.io.IOException.class);
        }
    }

    @Test
    void aSessionEndsWhenTheAdminCertificateDoes(@TempDir Path dir) throws Exception {
        // A 10-minute admin certificate, a 15-minute session setting: the certificate ends the session.
        try (RunningServer server = RunningServer.start(dir, Map.of("admin.credential-ttl", "10m"))) {
            Instant notAfter = server.adminCredential().leaf().getNotAfter().toInstant();
            HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create(loginLink(server))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(login.statusCode()).isEqualTo(303);
            String setCookie = login.headers().firstValue("set-cookie").orElseThrow();
            long maxAge = Long.parseLong(setCookie.replaceAll(".*Max-Age=(\\d+).*", "$1"));
            assertThat(maxAge).isLessThanOrEqualTo(Duration.between(server.clock().instant(), notAfter).toSeconds());
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            assertThat(get(server, cookie).statusCode()).isEqualTo(200);
            assertThat(server.server().audit().recent(50)).filteredOn(e -> e.action().equals("console.login"))
                    .singleElement().satisfies(e -> assertThat(e.target()).isEqualTo("session until " + notAfter));

            server.clock().set(notAfter.minusSeconds(30));
            String late = loginLink(server);
            server.clock().set(notAfter.minusSeconds(1));
            assertThat(get(server, cookie).statusCode()).isEqualTo(200);
            server.clock().set(notAfter);
            assertThat(get(server, cookie).statusCode()).as("the certificate has expired").isEqualTo(401);
            // A link still within its minute, made with a certificate that has since expired, opens nothing.
            HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(late)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(403);
            assertThat(refused.body()).contains("Login link refused", "has expired");
            assertThat(refused.headers().firstValue("set-cookie")).isEmpty();
        }
    }

    /**
     * The audit page's time filters, on the dev store (SQLite): a time the store can compare (years 1 to
     * 9999) filters, one beyond is refused on the page; both answered 500 before (an overflow counting
     * microseconds past 292 years of 1970).
     */
    @Test
    void anAuditFilterOutsideTheYearsOneTo9999IsRefusedOnThePage(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir)) {
            String setCookie = http.send(HttpRequest.newBuilder(URI.create(loginLink(server))).build(),
                    HttpResponse.BodyHandlers.ofString()).headers().firstValue("set-cookie").orElseThrow();
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            for (String filter : List.of("since=0001-01-01T00:00", "since=2300-01-01T00:00:00Z",
                    "until=9999-12-31T23:59:59Z")) {
                HttpResponse<String> page = audit(server, cookie, filter);
                assertThat(page.statusCode()).as(filter).isEqualTo(200);
                assertThat(page.body()).as(filter).contains("Audit records, newest first").doesNotContain("role=\"alert\"");
            }
            for (String filter : List.of("since=%2B10000-01-01T00:00:00Z", "until=-0001-12-31T23:59:59Z",
                    "since=%2B999999999-12-31T23:59:59Z")) {
                HttpResponse<String> page = audit(server, cookie, filter);
                assertThat(page.statusCode()).as(filter).isEqualTo(200);
                assertThat(page.body()).as(filter).contains("in the years 1 to 9999")
                        .doesNotContain("Audit records, newest first");
            }
        }
    }

    private HttpResponse<String> audit(RunningServer server, String cookie, String query) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.httpUrl("/console/audit?" + query)))
                .header("Cookie", cookie).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String loginLink(RunningServer server) {
        return ConsoleServiceGrpc.newBlockingStub(server.channel(server.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .createConsoleLogin(CreateConsoleLoginRequest.getDefaultInstance()).getUrl();
    }

    @Test
    void aSecretPastedAsTheSpiffeIdOfAnActionIsRefusedAndNeverRecorded(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir)) {
            String workload = "spiffe://lanyard.local/ns/shop/sa/web";
            server.register(workload);
            String joinToken = server.joinToken(workload);
            String link = ConsoleServiceGrpc.newBlockingStub(server.channel(server.adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .createConsoleLogin(CreateConsoleLoginRequest.getDefaultInstance()).getUrl();
            String setCookie = http.send(HttpRequest.newBuilder(URI.create(link)).build(),
                    HttpResponse.BodyHandlers.ofString()).headers().firstValue("set-cookie").orElseThrow();
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            String identities = http.send(HttpRequest.newBuilder(URI.create(server.httpUrl("/console/identities")))
                    .header("Cookie", cookie).build(), HttpResponse.BodyHandlers.ofString()).body();
            java.util.regex.Matcher csrf = java.util.regex.Pattern.compile("name=\"csrf\" value=\"([^\"]+)\"")
                    .matcher(identities);
            assertThat(csrf.find()).isTrue();
            for (String path : java.util.List.of("/console/identities/revoke", "/console/identities/reinstate")) {
                HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(server.httpUrl(path)))
                        .header("Cookie", cookie).header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString("csrf=" + csrf.group(1) + "&reason=keyCompromise"
                                + "&confirm=yes&spiffe_id=" + Forms.encode(joinToken)))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(refused.statusCode()).isEqualTo(400);
                assertThat(refused.body()).contains("not a SPIFFE ID").doesNotContain(joinToken);
            }
            // nor is it, or one pasted into the note, asked about on the page that confirms a revocation
            for (String fields : java.util.List.of("spiffe_id=" + Forms.encode(joinToken),
                    "spiffe_id=" + Forms.encode(workload) + "&note=" + Forms.encode("oops " + joinToken))) {
                HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create(
                        server.httpUrl("/console/identities/revoke"))).header("Cookie", cookie)
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString("csrf=" + csrf.group(1) + "&reason=keyCompromise&"
                                + fields)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(refused.statusCode()).isEqualTo(400);
                PastedSecrets.assertNotRepeated(refused.body(), joinToken);
            }
            // a form posted to a path that is the token, without the session's CSRF token: refused, and the
            // path is recorded by its length
            String tokenPath = "/console/" + Forms.encode(joinToken);
            HttpResponse<String> forged = http.send(HttpRequest.newBuilder(URI.create(server.httpUrl(tokenPath)))
                    .header("Cookie", cookie).header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("reason=keyCompromise")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(forged.statusCode()).isEqualTo(403);
            String described = "invalid spiffe_id (" + joinToken.length() + " characters)";
            var trail = server.server().audit().list(AuditQuery.all(0, 10_000));
            assertThat(trail).anyMatch(r -> r.event().action().equals("console.request")
                    && r.event().outcome() == AuditEvent.Outcome.REFUSED
                    && r.event().target().equals("invalid path (" + ("/console/" + joinToken).length() + " characters)"));
            for (String action : java.util.List.of("revocation.revoke", "revocation.reinstate")) {
                assertThat(trail).as(action).anyMatch(r -> r.event().action().equals(action)
                        && r.event().outcome() == AuditEvent.Outcome.REFUSED && r.event().target().equals(described));
            }
            assertThat(trail).allSatisfy(r -> PastedSecrets.assertNotRepeated(r.event().toString(), joinToken));
        }
    }

    private HttpResponse<String> get(RunningServer server, String cookie) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.httpUrl("/console/"))).header("Cookie", cookie).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
