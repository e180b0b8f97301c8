package dev.lanyard.tools;

import com.google.gson.Gson;
import com.google.gson.JsonParseException;
import com.google.gson.annotations.SerializedName;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs the Go load generator (clients/go/cmd/lanyard-loadgen) for {@code lanyard bench}: it costs far
 * less CPU per call than a JVM loop, so it takes less from the server it measures. The bench
 * identity is handed over as files in a private temporary directory, deleted afterwards.
 */
final class GoLoader {

    /** Where {@code clients/go/build.sh} and {@code ./lanyard} put the binary, relative to the checkout. */
    static final Path BUILT = Path.of("clients", "go", "target", "lanyard-loadgen");

    /** What the generator printed for the timed window. */
    record Result(String kind, long operations, Map<String, Long> errors, @SerializedName("p50_ms") double p50Ms,
            @SerializedName("p99_ms") double p99Ms, @SerializedName("cpu_seconds") double cpuSeconds) {
        Result {
            errors = errors == null ? Map.of() : Map.copyOf(errors);
        }
    }

    /** Called between the warm-up and the timed window, and after it: reads the server's /metrics. */
    interface Window {
        void started();

        void ended();
    }

    private final Path binary;

    GoLoader(Path binary) {
        this.binary = binary;
    }

    /**
     * The binary: {@code explicit} if given, else $LANYARD_LOADGEN, else {@link #BUILT} under the current
     * directory or one of its parents. Fails with what is missing and the alternative.
     */
    static GoLoader locate(Optional<Path> explicit, Optional<String> env, Path cwd) {
        Optional<Path> found = explicit.or(() -> env.filter(s -> !s.isBlank()).map(Path::of));
        for (Path dir = cwd.toAbsolutePath(); found.isEmpty() && dir != null; dir = dir.getParent()) {
            if (Files.isExecutable(dir.resolve(BUILT))) {
                found = Optional.of(dir.resolve(BUILT));
            }
        }
        if (found.isEmpty() || !Files.isExecutable(found.get())) {
            throw new IllegalStateException("the Go load generator is missing: "
                    + found.map(p -> p + " is not an executable file").orElse("no " + BUILT + " under "
                            + cwd.toAbsolutePath() + " or its parents, and LANYARD_LOADGEN is not set")
                    + ". Build it (Go 1.26 or newer: `./lanyard bench` builds it on first use, or"
                    + " `cd clients/go && go build -o target/lanyard-loadgen ./cmd/lanyard-loadgen`),"
                    + " name it with --loader-binary, or use --loader java");
        }
        return new GoLoader(found.get());
    }

    Path binary() {
        return binary;
    }

    /** Runs one bench; {@code kindArgs} are the kind and its own flags (-kind issue -csrs N, ...). */
    Result run(String server, Credential workload, List<String> kindArgs, int concurrency, Duration warmup,
            Duration duration, Window window) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("lanyard-bench-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            new CredentialDirectory(dir).write(workload);
            List<String> command = new ArrayList<>(List.of(binary.toString(), "-server", server,
                    "-bundle", dir.resolve(CredentialDirectory.BUNDLE).toString(),
                    "-cert", dir.resolve(CredentialDirectory.CERT).toString(),
                    "-key", dir.resolve(CredentialDirectory.KEY).toString(),
                    "-concurrency", Integer.toString(concurrency), "-warmup", warmup.toMillis() + "ms",
                    "-duration", duration.toMillis() + "ms", "-handshake"));
            command.addAll(kindArgs);
            Process process = new ProcessBuilder(command).start();
            CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> readAll(process));
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                    Writer in = process.outputWriter(StandardCharsets.UTF_8)) {
                String line = out.readLine();
                if (!"warm".equals(line)) {
                    throw failed(process, stderr, line);
                }
                window.started();
                in.write("\n");
                in.flush();
                line = out.readLine();
                if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0 || line == null) {
                    throw failed(process, stderr, line);
                }
                window.ended();
                return parse(line);
            } finally {
                process.destroy();
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static Result parse(String json) {
        try {
            Result r = new Gson().fromJson(json, Result.class);
            if (r == null || r.kind() == null) {
                throw new JsonParseException("no kind");
            }
            return r;
        } catch (JsonParseException e) {
            throw new IllegalStateException("the Go load generator printed " + json + ", not its report: "
                    + e.getMessage(), e);
        }
    }

    private IllegalStateException failed(Process process, CompletableFuture<String> stderr, String line)
            throws InterruptedException {
        // A loader that stopped on its own said why on stderr: let it exit and be read before destroy(),
        // which closes the streams under the reader ("Stream closed" instead of the reason).
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        String err = stderr.getNow("").strip();
        try {
            err = stderr.get(10, TimeUnit.SECONDS).strip();
        } catch (Exception e) {
            // keep what was read
        }
        return new IllegalStateException(binary.getFileName() + " failed" + (process.isAlive() ? ""
                : " (exit " + process.exitValue() + ")") + ": " + (err.isEmpty() ? "unexpected output " + line : err));
    }

    private static String readAll(Process process) {
        try {
            return new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
