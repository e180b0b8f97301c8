package dev.lanyard.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code lanyard-agent} process (agent/, Go), built from source with the Go toolchain, serving
 * the Workload API on a unix socket. Its stderr goes to a file the test prints when something fails.
 */
final class AgentProcess implements AutoCloseable {

    private static Path binary;

    final Path socket;
    final String agentId;
    private final Path log;
    private final Process process;

    private AgentProcess(Path socket, String agentId, Path log, Process process) {
        this.socket = socket;
        this.agentId = agentId;
        this.log = log;
        this.process = process;
    }

    /** The address Workload API clients take (SPIFFE_ENDPOINT_SOCKET form). */
    String address() {
        return "unix:" + socket;
    }

    /**
     * Starts the agent with a one-time agent join token against {@code server} (HOST:PORT, trusted
     * through {@code bundle}), with the settings of {@code configJson}; returns once it serves.
     */
    static AgentProcess start(Path root, Path dir, String server, Path bundle, String joinToken, String configJson)
            throws IOException, InterruptedException {
        Path config = dir.resolve("agent.json");
        Files.writeString(config, configJson);
        Path socket = dir.resolve("agent.sock");
        Path log = dir.resolve("agent.log");
        Path out = dir.resolve("agent.out");
        ProcessBuilder builder = new ProcessBuilder(List.of(build(root).toString(), "--socket", socket.toString(),
                "--server", server, "--bundle", bundle.toString(), "--data-dir", dir.resolve("agent-data").toString(),
                "--config", config.toString()))
                .redirectError(log.toFile()).redirectOutput(out.toFile());
        builder.environment().put("LANYARD_JOIN_TOKEN", joinToken);
        Process process = builder.start();
        // "lanyard-agent serving unix://SOCKET as AGENT_ID" on stdout once the socket accepts calls.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (String line : Files.readAllLines(out, StandardCharsets.UTF_8)) {
                if (line.startsWith("lanyard-agent serving ")) {
                    return new AgentProcess(socket, line.substring(line.lastIndexOf(' ') + 1), log, process);
                }
            }
            if (!process.isAlive()) {
                throw new IllegalStateException("lanyard-agent exited with " + process.exitValue() + " before serving:\n"
                        + Files.readString(log));
            }
            Thread.sleep(50);
        }
        process.destroyForcibly();
        throw new IllegalStateException("lanyard-agent did not serve within 60 s:\n" + Files.readString(log));
    }

    /** Builds agent/ once per test run (Go's build cache makes a rebuild cheap). */
    private static synchronized Path build(Path root) throws IOException, InterruptedException {
        if (binary != null) {
            return binary;
        }
        Path bin = Files.createTempDirectory("lanyard-agent-bin");
        Path out = bin.resolve("lanyard-agent");
        // Deleted at exit in reverse order: the binary, then its directory.
        bin.toFile().deleteOnExit();
        out.toFile().deleteOnExit();
        List<String> command = new ArrayList<>(List.of(go(), "build", "-buildvcs=false", "-o", out.toString(), "."));
        Process build = new ProcessBuilder(command).directory(root.resolve("agent").toFile())
                .redirectErrorStream(true).start();
        String output = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (build.waitFor() != 0) {
            throw new IllegalStateException("go build of agent/ failed:\n" + output);
        }
        binary = out;
        return out;
    }

    private static String go() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "go"))) {
                return Path.of(dir, "go").toString();
            }
        }
        if (Files.isExecutable(Path.of("/usr/local/go/bin/go"))) {
            return "/usr/local/go/bin/go";
        }
        throw new IllegalStateException("the Go toolchain (`go`, 1.26 or newer) is not on PATH: the node agent test"
                + " builds agent/ with it. Install Go, or skip the cross-language part with -Dlanyard.skipCrossLanguage=true");
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String log() {
        try {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            return text.length() > 20_000 ? text.substring(text.length() - 20_000) : text;
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** The agent's environment for a child that finds the socket the SPIFFE way. */
    Map<String, String> endpointEnvironment() {
        return Map.of("SPIFFE_ENDPOINT_SOCKET", "unix://" + socket);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(Duration.ofSeconds(10).toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
