package dev.lanyard.console;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditQuery;
import dev.lanyard.audit.AuditRecord;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.ConsoleServiceGrpc;
import dev.lanyard.v1.CreateConsoleLoginRequest;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin console in a real browser: headless Chromium (Debian's {@code chromium}) driven by
 * {@code playwright-core} from e2e/console, against a real server. Screenshots of every page go to
 * target/console-screenshots. Needs {@code node} on PATH and /usr/bin/chromium (or LANYARD_CHROMIUM);
 * {@code -Dlanyard.skipBrowser=true} skips it on purpose, anything missing otherwise fails it.
 */
class ConsoleBrowserTest {

    static final String SKIP_FLAG = "lanyard.skipBrowser";
    private static final Path PROJECT = Path.of("..", "e2e", "console").toAbsolutePath().normalize();
    private static final Path SHOTS = Path.of("target", "console-screenshots").toAbsolutePath();
    private static String chromium;

    @BeforeAll
    static void browserIsThere() throws Exception {
        Assumptions.assumeFalse(Boolean.getBoolean(SKIP_FLAG), "browser tests skipped by -D" + SKIP_FLAG + "=true");
        chromium = System.getenv().getOrDefault("LANYARD_CHROMIUM", "/usr/bin/chromium");
        if (!Files.isExecutable(Path.of(chromium))) {
            throw new IllegalStateException("no Chromium at " + chromium + ": apt-get install chromium (or set"
                    + " LANYARD_CHROMIUM); -D" + SKIP_FLAG + "=true skips the browser tests on purpose");
        }
        if (run(List.of("node", "--version"), Map.of(), 30).exit != 0) {
            throw new IllegalStateException("node is not on PATH: apt-get install nodejs npm; -D" + SKIP_FLAG
                    + "=true skips the browser tests on purpose");
        }
        if (!Files.isDirectory(PROJECT.resolve("node_modules/playwright-core"))) {
            // the pinned playwright-core from package-lock.json; it never downloads a browser
            Result install = run(List.of("npm", "ci", "--no-audit", "--no-fund"),
                    Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"), 300);
            if (install.exit != 0) {
                throw new IllegalStateException("npm ci in " + PROJECT + " failed: " + install.output);
            }
        }
    }

    @Test
    void anAdminRevokesAnIdentityByClickingAndItsRenewalIsRefused(@TempDir Path dir) throws Exception {
        try (RunningServer server = RunningServer.start(dir, Map.of("console.session-ttl", "10m"))) {
            String id = "spiffe://lanyard.local/ns/shop/sa/web";
            server.register(id);
            Credential workload = server.bootstrap(id);
            String serial = workload.leaf().getSerialNumber().toString(16);
            String link = ConsoleServiceGrpc.newBlockingStub(server.channel(server.adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .createConsoleLogin(CreateConsoleLoginRequest.getDefaultInstance()).getUrl();
            assertThat(link).startsWith(server.httpUrl("/console/login?t="));
            Path state = dir.resolve("browser-state.json");
            Map<String, String> env = Map.of("CONSOLE_LINK", link, "SPIFFE_ID", id, "SERIAL", serial,
                    "SHOTS", SHOTS.toString(), "STATE", state.toString(), "CHROMIUM", chromium);

            Result main = run(List.of("node", "console-flow.mjs", "main"), env, 180);
            assertThat(main.exit).as("the browser flow:%n%s", main.output).isZero();
            System.out.println("console page weights (bytes): " + main.output.strip());

            // Its next renewal, over real gRPC with its still-unexpired certificate, is refused.
            assertThatThrownBy(() -> server.renew(workload)).isInstanceOf(StatusRuntimeException.class)
                    .hasMessageContaining("revoked");

            server.clock().advance(Duration.ofMinutes(11));
            Result expired = run(List.of("node", "console-flow.mjs", "expired"), env, 120);
            assertThat(expired.exit).as("the expired session:%n%s", expired.output).isZero();

            List<AuditRecord> records = server.server().audit().list(AuditQuery.all(0, 10_000));
            String secret = link.substring(link.indexOf("t=") + 2);
            assertThat(records).noneMatch(r -> r.event().toString().contains(secret));
            String admin = server.adminCredential().leaf().getSubjectAlternativeNames().iterator().next().get(1)
                    .toString();
            assertThat(records).anyMatch(r -> r.event().action().equals("revocation.revoke")
                    && r.event().actor().equals(admin) && r.event().reason().startsWith("channel=console"));
            assertThat(records).anyMatch(r -> r.event().action().equals("console.request")
                    && r.event().reason().contains("CSRF"));
            assertThat(SHOTS.resolve("overview.png")).exists();
            assertThat(SHOTS.resolve("session-expired.png")).exists();
        }
    }

    private record Result(int exit, String output) {
    }

    private static Result run(List<String> command, Map<String, String> env, int timeoutSeconds)
            throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(command)).directory(PROJECT.toFile())
                .redirectErrorStream(true);
        builder.environment().putAll(env);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            return new Result(-1, command.get(0) + " could not start: " + e.getMessage());
        }
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            return new Result(-1, "timed out after " + timeoutSeconds + " s: " + new String(output, StandardCharsets.UTF_8));
        }
        return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }
}
