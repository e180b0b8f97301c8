package dev.lanyard.e2e;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One example service (the Go payments or the Rust ledger binary) as a process of its own, driven
 * through its loopback control API. Its output goes to a file the test prints when something fails.
 */
final class ExampleService implements AutoCloseable {

    /** The outcome of an outgoing call, as the service reports it. */
    record Outcome(String code, String message) {
        @Override
        public String toString() {
            return code + ": " + message;
        }
    }

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    final String name;
    final String grpcAddress;
    private final String control;
    private final Path log;
    private final Process process;

    private ExampleService(String name, String grpcAddress, String control, Path log, Process process) {
        this.name = name;
        this.grpcAddress = grpcAddress;
        this.control = control;
        this.log = log;
        this.process = process;
    }

    /**
     * Starts {@code binary} with the flags every example takes; the join token goes in the
     * environment. {@code trust} is {@code --bundle FILE} or {@code --root-fingerprint sha256:HEX}.
     */
    static ExampleService start(String name, Path binary, String lanyard, List<String> trust, String jwksUrl, String issuer,
            String joinToken, int grpcPort, int controlPort, Path logDir, List<String> extra) throws IOException {
        if (!Files.isExecutable(binary)) {
            throw new IllegalStateException(binary + " does not exist: the clients/go and clients/rust modules build it"
                    + " (run the whole build, or skip the cross-language part with -Dlanyard.skipCrossLanguage=true)");
        }
        List<String> command = new ArrayList<>(List.of(binary.toString(), "--lanyard", lanyard));
        command.addAll(trust);
        command.addAll(List.of("--jwks-url", jwksUrl, "--issuer", issuer, "--listen", "127.0.0.1:" + grpcPort,
                "--control", "127.0.0.1:" + controlPort));
        if (jwksUrl.startsWith("http://")) {
            command.add("--allow-plain-http"); // the examples refuse a plain-HTTP JWKS unless told
        }
        command.addAll(extra);
        Path log = logDir.resolve(name + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("LANYARD_JOIN_TOKEN", joinToken);
        return new ExampleService(name, "127.0.0.1:" + grpcPort, "http://127.0.0.1:" + controlPort, log, builder.start());
    }

    /** Waits for the process to end by itself; its exit code. */
    int awaitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException(name + " still runs after " + timeout + ":\n" + log());
        }
        return process.exitValue();
    }

    /** Waits until the service holds a certificate and serves. */
    void awaitHealthy(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(name + " exited with " + process.exitValue() + ":\n" + log());
            }
            try {
                if (get("/healthz").statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException(name + " did not become healthy in " + timeout + ":\n" + log());
    }

    /** Calls {@code method} on {@code target} with a token for (audience, scopes) it fetches itself. */
    Outcome call(ExampleService target, String method, String audience, List<String> scopes, Map<String, Object> request)
            throws Exception {
        return call(Map.of("target", target.grpcAddress, "method", method, "audience", audience, "scopes", scopes,
                "request", request));
    }

    /** Calls with the given token instead of one it fetches. */
    Outcome callWithToken(ExampleService target, String method, String token, Map<String, Object> request)
            throws Exception {
        return call(Map.of("target", target.grpcAddress, "method", method, "token", token, "request", request));
    }

    private Outcome call(Map<String, Object> body) throws Exception {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(control + "/call"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSONObjectUtils.toJSONString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException(name + " refused the call request: " + response.body());
        }
        Map<String, Object> json = JSONObjectUtils.parse(response.body());
        return new Outcome(String.valueOf(json.get("code")), String.valueOf(json.get("message")));
    }

    /** Renews the certificate now. */
    Outcome renew() throws Exception {
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(control + "/renew"))
                .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        Map<String, Object> json = JSONObjectUtils.parse(response.body());
        return new Outcome(String.valueOf(json.get("code")), String.valueOf(json.get("message")));
    }

    Map<String, Object> status() throws Exception {
        return JSONObjectUtils.parse(get("/status").body());
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(control + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    String log() {
        try {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            return text.length() > 20_000 ? text.substring(text.length() - 20_000) : text;
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
