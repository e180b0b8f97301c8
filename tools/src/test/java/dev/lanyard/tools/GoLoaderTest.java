package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GoLoaderTest {

    @TempDir
    Path dir;

    @Test
    void readsTheReportTheGoGeneratorPrints() {
        GoLoader.Result r = GoLoader.parse("{\"kind\":\"issue\",\"concurrency\":2,\"seconds\":2,\"operations\":100,"
                + "\"errors\":{\"UNAVAILABLE\":3},\"p50_ms\":50,\"p99_ms\":99.5,\"cpu_seconds\":1.5}");
        assertThat(r).isEqualTo(new GoLoader.Result("issue", 100, Map.of("UNAVAILABLE", 3L), 50, 99.5, 1.5));
        assertThat(GoLoader.parse("{\"kind\":\"token\",\"operations\":1}").errors()).isEmpty();
    }

    @Test
    void somethingElseOnStdoutIsAClearError() {
        assertThatThrownBy(() -> GoLoader.parse("panic: oops")).hasMessageContaining(
                "the Go load generator printed panic: oops, not its report");
        assertThatThrownBy(() -> GoLoader.parse("{}")).hasMessageContaining("not its report");
    }

    @Test
    void findsTheBuiltBinaryInAParentDirectory() throws Exception {
        Path binary = dir.resolve(GoLoader.BUILT);
        Files.createDirectories(binary.getParent());
        Files.createFile(binary, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path below = Files.createDirectories(dir.resolve("tools"));
        assertThat(GoLoader.locate(Optional.empty(), Optional.empty(), below).binary()).isEqualTo(binary);
    }

    @Test
    void aMissingBinaryNamesWhatIsMissingAndTheJavaLoader() {
        assertThatThrownBy(() -> GoLoader.locate(Optional.empty(), Optional.of(""), dir))
                .hasMessageContaining("the Go load generator is missing: no clients/go/target/lanyard-loadgen under "
                        + dir.toAbsolutePath())
                .hasMessageContaining("LANYARD_LOADGEN is not set")
                .hasMessageContaining("go build -o target/lanyard-loadgen ./cmd/lanyard-loadgen")
                .hasMessageContaining("--loader java");
        assertThatThrownBy(() -> GoLoader.locate(Optional.of(dir.resolve("nope")), Optional.empty(), dir))
                .hasMessageContaining(dir.resolve("nope") + " is not an executable file")
                .hasMessageContaining("--loader java");
    }

    @Test
    void benchWithoutTheGoLoaderFailsBeforeTouchingTheServer() {
        CliRun run = CliRun.run("bench", "issue", "--loader-binary", dir.resolve("nope").toString(),
                "--server", "localhost:1", "--data", dir.toString());
        assertThat(run.exit()).isNotZero();
        assertThat(run.err()).contains("the Go load generator is missing", "--loader java");
    }

    @Test
    void aLoadThatCannotRunIsRefusedBeforeTouchingTheServerByBothBenches() {
        for (String kind : List.of("issue", "token")) {
            for (List<String> bad : List.of(List.of("--concurrency", "0"), List.of("--duration", "0s"),
                    List.of("--warmup", "PT-1S"))) {
                List<String> args = new java.util.ArrayList<>(List.of("bench", kind, "--server", "localhost:1",
                        "--data", dir.toString()));
                args.addAll(bad);
                CliRun run = CliRun.run(args.toArray(String[]::new));
                assertThat(run.exit()).as(String.join(" ", args)).isNotZero();
                assertThat(run.err()).as(String.join(" ", args))
                        .contains("--concurrency and --duration must be positive, --warmup not negative")
                        .doesNotContain("localhost:1");
            }
        }
        CliRun run = CliRun.run("bench", "issue", "--server", "localhost:1", "--data", dir.toString(),
                "--compare-in-process", "0s");
        assertThat(run.exit()).isNotZero();
        assertThat(run.err()).contains("--compare-in-process must be positive").doesNotContain("localhost:1");
    }
}
