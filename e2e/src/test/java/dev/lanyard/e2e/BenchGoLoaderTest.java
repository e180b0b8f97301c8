package dev.lanyard.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.RunningServer;
import dev.lanyard.tools.Lanyard;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lanyard bench issue|token|ping --loader go}: the Go load generator against a real dev server. */
class BenchGoLoaderTest {

    private static final Path LOADER = Path.of(System.getProperty("lanyard.root", ".."), "clients", "go", "target",
            "lanyard-loadgen");

    @TempDir
    Path dir;
    RunningServer lanyard;

    record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void start() throws Exception {
        if (!Files.isExecutable(LOADER)) {
            throw new IllegalStateException(LOADER + " does not exist: the clients/go module builds it (run the"
                    + " whole build, or skip the cross-language part with -Dlanyard.skipCrossLanguage=true)");
        }
        // The test clock does not move, so the per-identity limits get a budget the whole run fits in.
        lanyard = RunningServer.start(dir.resolve("data"), Map.of("token.rate-per-second", "100000",
                "token.burst", "1000000", "limits.identity-per-second", "100000", "limits.identity-burst", "1000000"));
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void issueRunsTheGoLoaderAndReportsItsCpu() {
        Run bench = bench("issue", "--csrs", "16");
        assertThat(bench.exit()).as(bench.err()).isZero();
        assertThat(bench.out()).containsPattern("[1-9][0-9,]* certificates in 2s = [0-9,]+ certificates/s")
                .contains("p50", "p99", "after 0s warm-up")
                .doesNotContain("errors:")
                .containsPattern("server CPU [0-9.]+ ms per certificate")
                .containsPattern("load generator CPU [0-9.]+ ms per certificate \\(Go load generator lanyard-loadgen\\)")
                .containsPattern("this machine: [0-9]+ % of CPU time busy, [0-9.]+ % stolen by the hypervisor");
    }

    @Test
    void tokenRunsTheGoLoaderAndReportsItsCpu() {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("version: 1\ngrants { spiffe_ids: \"spiffe://lanyard.local/bench/load\""
                + " audience: \"payments\" scopes: \"payments.read\" }\n");
        Run bench = bench("token", "--audience", "payments", "--scope", "payments.read");
        assertThat(bench.exit()).as(bench.err()).isZero();
        assertThat(bench.out()).containsPattern("[1-9][0-9,]* tokens in 2s = [0-9,]+ tokens/s")
                .doesNotContain("errors:")
                .containsPattern("server CPU [0-9.]+ ms per token")
                .containsPattern("load generator CPU [0-9.]+ ms per token \\(Go load generator lanyard-loadgen\\)");
        // Each token is one audit record, stored before the token is sent: the window's records are its tokens.
        assertThat(figure(bench.out(), "([0-9,]+) tokens in 2s")).isEqualTo(
                figure(bench.out(), "audit trail: ([0-9,]+) records in [0-9,]+ commits"));
    }

    @Test
    void pingRunsTheGoLoaderAndStoresNothing() {
        Run bench = bench("ping");
        assertThat(bench.exit()).as(bench.err()).isZero();
        assertThat(bench.out()).contains("gRPC health checks over mTLS")
                .containsPattern("[1-9][0-9,]* calls in 2s = [0-9,]+ calls/s")
                .doesNotContain("errors:", "audit trail:")
                .containsPattern("server CPU [0-9.]+ ms per call")
                .containsPattern("load generator CPU [0-9.]+ ms per call \\(Go load generator lanyard-loadgen\\)");
    }

    private static long figure(String report, String pattern) {
        var matcher = java.util.regex.Pattern.compile(pattern).matcher(report);
        assertThat(matcher.find()).as("%s in:%n%s", pattern, report).isTrue();
        return Long.parseLong(matcher.group(1).replace(",", ""));
    }

    @Test
    void aTokenTheServerRefusesStopsTheBenchWithTheReason() {
        // No contract declares the audience yet: the generator's first call fails, and says why.
        Run bench = bench("token", "--audience", "payments", "--scope", "payments.read");
        assertThat(bench.exit()).isNotZero();
        assertThat(bench.out()).isEmpty();
        assertThat(bench.err()).contains("lanyard-loadgen failed (exit 1)", "the first token call",
                "code = InvalidArgument", "unknown audience \"payments\"");
    }

    private Run bench(String kind, String... extra) {
        List<String> args = new ArrayList<>(List.of("bench", kind, "--loader", "go", "--loader-binary",
                LOADER.toString(), "--server", "localhost:" + lanyard.server().grpcPort(), "--data",
                dir.resolve("data").toString(), "--metrics", lanyard.httpUrl("/metrics"), "--concurrency", "2",
                "--duration", "2s", "--warmup", "0s"));
        args.addAll(List.of(extra));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = Lanyard.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }
}
