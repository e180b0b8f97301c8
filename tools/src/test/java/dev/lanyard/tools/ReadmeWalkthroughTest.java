package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.RunningServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's walkthrough, run as written: the fenced {@code sh} blocks of its operator sections,
 * in order, by bash, in a fresh directory, against a real dev server (each {@code ./lanyard} is a new
 * JVM, as for a user). Two documented substitutions only: the dev server's ports come from
 * LANYARD_SERVER (it binds port 0), and {@code sha256:<hex>} is the fingerprint `lanyard dev` printed.
 * Commands that run until Ctrl-C ({@code --follow}, {@code revocations watch}) are stopped after a
 * few seconds by the ./lanyard stand-in, which counts that as success. The `audit archive` block is left out:
 * it needs the server stopped (H2) or PostgreSQL.
 *
 * <p>The stand-in dispatches as ./lanyard does: the server-calling verbs to the Go command line
 * (clients/go/cmd/lanyard-cli, built here), which hands back what it does not serve (exit 125) to the
 * Java one. It needs Go; {@code -Dlanyard.skipCrossLanguage=true} runs every command on the JVM instead.
 */
class ReadmeWalkthroughTest {

    private static final List<String> SECTIONS = List.of("## Your first certificate", "## Tokens and contracts",
            "## Revocation", "## Audit", "## Backup and restore", "## Admin console",
            "## Rotating the CA: offline roots and new roots");
    private static final Pattern SH_BLOCK = Pattern.compile("```sh\n(.*?)```", Pattern.DOTALL);

    @TempDir
    Path dir;

    @Test
    void theReadmeCommandsRunInOrderAgainstADevServer() throws Exception {
        String script = script(Files.readString(readme()));
        assertThat(script).contains("./lanyard cert issue --out ./payments-creds", "--out ./shop-creds",
                "./lanyard token issue --in ./shop-creds", "./lanyard revoke --serial", "./lanyard audit verify --anchor",
                "./lanyard console");
        try (RunningServer lanyard = RunningServer.start(dir.resolve("lanyard-data"))) {
            Files.writeString(dir.resolve("walkthrough.sh"),
                    script.replace("sha256:<hex>", lanyard.server().rootFingerprint()));
            standIn();
            Path examples = Files.createDirectories(dir.resolve("proto/target/classes")).resolve("examples.pb");
            try (InputStream in = getClass().getResourceAsStream("/examples.pb")) {
                Files.write(examples, in.readAllBytes());
            }
            ProcessBuilder bash = new ProcessBuilder("bash", "walkthrough.sh").directory(dir.toFile())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("walkthrough.log").toFile());
            bash.environment().put("LANYARD_SERVER", "localhost:" + lanyard.server().grpcPort());
            Process process = bash.start();
            boolean done = process.waitFor(15, TimeUnit.MINUTES);
            if (!done) {
                process.destroyForcibly();
            }
            String log = Files.readString(dir.resolve("walkthrough.log"));
            assertThat(done).as("the walkthrough did not finish in 15 minutes:%n%s", log).isTrue();
            assertThat(process.exitValue()).as("a README command failed (bash -x log):%n%s", log).isZero();
            assertThat(log).contains(
                    "registered spiffe://lanyard.local/ns/payments/sa/api",
                    "DNS api.payments.internal",
                    "DNS:api.payments.internal",
                    "applied policy version 1",
                    "revoked spiffe://lanyard.local/ns/payments/sa/api (keyCompromise)",
                    "revoked serial ",
                    "reinstated spiffe://lanyard.local/ns/payments/sa/api",
                    "revoked spiffe://lanyard.local/ns/legacy/sa/batch",
                    "wrote lanyard.backup: ",
                    "restored ",
                    "audit trail intact",
                    "the bundle now holds 2 roots",
                    "PREPARED");
            assertThat(log).containsPattern("\n[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\n"); // the token
            assertThat(log).doesNotContain("error:");
            List<String> dispatched = Files.readAllLines(dir.resolve("dispatch.log"));
            if (Boolean.getBoolean("lanyard.skipCrossLanguage")) {
                assertThat(dispatched).allMatch(line -> line.startsWith("java "));
            } else {
                assertThat(dispatched).contains("go registration create", "go join-token create", "go cert issue",
                        "go cert renew", "go token issue", "go revoke --spiffe-id", "go reinstate --spiffe-id",
                        "go console ", "go revocations watch", "go audit tail", "java contracts publish (handed back)",
                        "java keys rotate (handed back)", "java audit verify (handed back)", "java backup --out",
                        "java restore --from").doesNotContain("java revoke --spiffe-id (handed back)");
            }
        }
    }

    @Test
    void theStandInGivesTheGoCommandLineTheVerbsTheScriptGivesIt() throws IOException {
        assertThat(Files.readString(readme().resolveSibling("lanyard"))).contains("case \"" + GO_VERBS + "\" in");
    }

    /** The sh blocks of the operator sections, in README order, as one bash script that stops at the first failure. */
    static String script(String readme) {
        StringBuilder script = new StringBuilder("set -euo pipefail\nset -x\n");
        for (String heading : SECTIONS) {
            int start = readme.indexOf("\n" + heading + "\n");
            assertThat(start).as("README has no section %s", heading).isNotNegative();
            int end = readme.indexOf("\n## ", start + heading.length() + 2);
            Matcher blocks = SH_BLOCK.matcher(readme.substring(start, end < 0 ? readme.length() : end));
            while (blocks.find()) {
                // `audit archive` works on a stopped server's database (or PostgreSQL): not part of a walkthrough
                // done with `./lanyard dev` running, and its block says so.
                if (!blocks.group(1).contains("audit archive")) {
                    script.append(blocks.group(1));
                }
            }
        }
        return script.toString();
    }

    /** The verbs ./lanyard gives to the Go command line (kept in step with the script). */
    static final String GO_VERBS = " registration join-token certs cert token revoke reinstate revocations keys audit contracts"
            + " console ";

    /**
     * ./lanyard for the walkthrough: this build's classes behind the Go command line as the script
     * dispatches, stopping the commands that run until Ctrl-C.
     */
    private void standIn() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String run = "'" + java + "' -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
                // the test class path holds two logback-test.xml files, and logback reports that on stdout
                + " -Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener -cp '"
                + System.getProperty("java.class.path") + "' dev.lanyard.tools.Lanyard \"$@\"";
        String cli = Boolean.getBoolean("lanyard.skipCrossLanguage") ? "" : goCli().toString();
        List<String> lines = new ArrayList<>(List.of(
                "#!/usr/bin/env bash",
                "if [ -z \"${STAND_IN_INNER:-}\" ]; then",
                "  case \" $* \" in",
                "    *' --follow '*|*' watch '*)",
                "      status=0; STAND_IN_INNER=1 timeout 20 \"$0\" \"$@\" || status=$?",
                "      [ \"$status\" -eq 124 ] && exit 0; exit \"$status\";;",
                "  esac",
                "fi",
                "cli='" + cli + "'",
                "case \"" + GO_VERBS + "\" in",
                "  *\" ${1:-none} \"*)",
                "    if [ -n \"$cli\" ]; then",
                // before it runs: a command stopped by the timeout above still shows where it ran
                "      echo \"go $1 $2\" >> '" + dir.resolve("dispatch.log") + "'",
                "      status=0; LANYARD_CLI_DEFER=1 \"$cli\" \"$@\" || status=$?",
                "      [ \"$status\" -eq 125 ] || exit \"$status\"",
                "      echo \"java $1 $2 (handed back)\" >> '" + dir.resolve("dispatch.log") + "'",
                "      exec " + run,
                "    fi;;",
                "esac",
                "echo \"java $1 $2\" >> '" + dir.resolve("dispatch.log") + "'",
                "exec " + run));
        Path lanyard = dir.resolve("lanyard");
        Files.write(lanyard, lines, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(lanyard, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Builds clients/go/cmd/lanyard-cli into the test directory; without Go, says what is missing and the flag. */
    private Path goCli() throws IOException, InterruptedException {
        String go = Files.isExecutable(Path.of("/usr/local/go/bin/go")) ? "/usr/local/go/bin/go" : "go";
        Path binary = dir.resolve("lanyard-cli");
        ProcessBuilder build = new ProcessBuilder(go, "build", "-buildvcs=false", "-o", binary.toString(),
                "./cmd/lanyard-cli").directory(readme().resolveSibling("clients/go").toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("go-build.log").toFile());
        Process process;
        try {
            process = build.start();
        } catch (IOException e) {
            throw new AssertionError("the README walkthrough runs the server-calling verbs on the Go command line, as"
                    + " ./lanyard does, and Go is not installed (" + e.getMessage() + "); install Go 1.26 or newer, or"
                    + " pass -Dlanyard.skipCrossLanguage=true to run every command on the JVM", e);
        }
        assertThat(process.waitFor(10, TimeUnit.MINUTES)).as("go build did not finish in 10 minutes").isTrue();
        assertThat(process.exitValue()).as("go build ./cmd/lanyard-cli failed:%n%s",
                Files.readString(dir.resolve("go-build.log"))).isZero();
        return binary;
    }

    private static Path readme() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("README.md")) && Files.isDirectory(d.resolve("tools"))) {
                return d.resolve("README.md");
            }
        }
        throw new IllegalStateException("no README.md above " + Path.of("").toAbsolutePath());
    }
}
