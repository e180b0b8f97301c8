package dev.lanyard.tools;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The training run behind ./lanyard's class-data archive (AppCDS, made once per build with
 * -XX:ArchiveClassesAtExit): starts a dev server in a temporary directory and runs the common
 * commands against it in-process, so the classes a command loads are archived parsed and
 * verified. Output is discarded; the server is stopped and the directory removed.
 */
public final class CdsTraining {

    private CdsTraining() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("lanyard-cds");
        // The dev server runs in a process of its own: archiving at exit while a server's threads still run
        // crashes JDK 17's dynamic archive dump.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process server = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                Lanyard.class.getName(), "dev", "--data", dir.resolve("data").toString(), "--port", "0",
                "--http-port", "0").redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8));
            String port = null;
            String fingerprint = null;
            for (String line = lines.readLine(); line != null && fingerprint == null; line = lines.readLine()) {
                if (line.contains("gRPC (TLS)")) {
                    port = line.substring(line.lastIndexOf(':') + 1).trim();
                } else if (line.contains("root fingerprint")) {
                    fingerprint = line.substring(line.indexOf("sha256:")).trim();
                }
            }
            if (port == null || fingerprint == null) {
                throw new IllegalStateException("the dev server did not start");
            }
            train("127.0.0.1:" + port, dir.resolve("data").toString(), fingerprint, dir);
        } finally {
            server.destroy();
            server.waitFor();
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(CdsTraining::delete);
            }
        }
        System.exit(0);
    }

    private static void train(String at, String data, String fingerprint, Path dir) throws IOException {
        String id = "spiffe://lanyard.local/ns/cds/sa/training";
        run("--version");
        run("--help");
        run("cert", "issue", "--help");
        run("registration", "create", "--server", at, "--data", data, "--spiffe-id", id, "--dns", "cds.internal");
        run("registration", "list", "--server", at, "--data", data);
        Path token = dir.resolve("token");
        Files.writeString(token, run("join-token", "create", "--server", at, "--data", data, "--spiffe-id", id));
        Path creds = dir.resolve("creds");
        run("cert", "issue", "--server", at, "--root-fingerprint", fingerprint, "--join-token-file", token.toString(),
                "--out", creds.toString());
        run("cert", "renew", "--server", at, "--in", creds.toString());
        run("certs", "list", "--server", at, "--data", data);
        run("keys", "list", "--server", at, "--data", data);
        run("revocations", "list", "--server", at, "--data", data);
        run("audit", "tail", "-n", "5", "--server", at, "--data", data);
        run("policy", "show", "--server", at, "--data", data);
        run("registration", "list", "--server", "127.0.0.1:1", "--data", data); // the refused-connection path
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        picocli.CommandLine cli = Lanyard.commandLine(args);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(new StringWriter(), true));
        cli.execute(args);
        return out.toString();
    }

    private static void delete(Path p) {
        try {
            Files.delete(p);
        } catch (IOException e) {
            // a temporary file left behind is harmless
        }
    }
}
