package dev.lanyard.tools;

import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(footer = {"%nExample:", "  ./lanyard dev", "  ./lanyard dev --data /tmp/lanyard --port 9443 --http-port 9080"},
        name = "dev", description = "Start a dev CA on localhost: keys, database and an admin credential in --data.")
final class DevCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--data", defaultValue = "lanyard-data", description = "data directory (default: ${DEFAULT-VALUE})")
    Path data;

    @Option(names = "--port", defaultValue = "8443", description = "gRPC port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--http-port", defaultValue = "8080", description = "HTTP publication port (default: ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--log-format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE})")
    String logFormat;

    @Option(names = "--http-tls", defaultValue = "none",
            description = "publication port TLS: none (plain HTTP) or spiffe (the server's SPIFFE certificate)"
                    + " (default: ${DEFAULT-VALUE})")
    String httpTls;

    @Option(names = "--x509pop-roots", description = "PEM roots of a node PKI: node agents may attest with x509pop")
    Path x509popRoots;

    @Option(names = "--agent-svid-ttl", description = "lifetime of a node agent's own SVID, say 30s or 1h"
            + " (the server's agent.svid-ttl; default 1h)")
    String agentSvidTtl;

    @Override
    public Integer call() throws Exception {
        LogFormats.apply(switch (logFormat) {
            case "text" -> ServerConfig.LogFormat.TEXT;
            case "json" -> ServerConfig.LogFormat.JSON;
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--log-format must be text or json");
        });
        // Before anything is written to --data: a taken port must not leave a half-made dev CA behind.
        requireFree(port, "gRPC", "--port");
        requireFree(httpPort, "HTTP", "--http-port");
        if (!httpTls.equals("none") && !httpTls.equals("spiffe")) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--http-tls must be none or spiffe");
        }
        if (agentSvidTtl != null && !positiveDuration(agentSvidTtl)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--agent-svid-ttl must be a positive duration such as 30s, 10m or 1h, not " + agentSvidTtl);
        }
        java.util.Map<String, String> extra = new java.util.HashMap<>();
        extra.put("http.tls", httpTls);
        if (x509popRoots != null) {
            extra.put("x509pop.roots", x509popRoots.toAbsolutePath().toString());
        }
        if (agentSvidTtl != null) {
            extra.put("agent.svid-ttl", agentSvidTtl);
        }
        LanyardServer server = LanyardServer.start(ServerConfig.dev(data, port, httpPort, extra));
        boolean https = httpTls.equals("spiffe");
        PrintWriter out = spec.commandLine().getOut();
        String admin = server.config().adminCredentialDir().orElseThrow().toString();
        String td = server.config().trustDomain();
        out.printf("""

                Lanyard dev CA is running (trust domain %s).
                  gRPC (TLS)       localhost:%d
                  %-16s %s://localhost:%d/bundle.pem
                  admin credential %s
                  root fingerprint %s
                  crypto provider  %s

                Get your first certificate:
                  ./lanyard registration create --data %s --server localhost:%d --spiffe-id spiffe://%s/ns/demo/sa/app
                  TOKEN=$(./lanyard join-token create --data %s --server localhost:%d --spiffe-id spiffe://%s/ns/demo/sa/app)
                  LANYARD_JOIN_TOKEN=$TOKEN ./lanyard cert issue --out ./demo-creds --server localhost:%d \\
                      --root-fingerprint %s
                  ./lanyard cert renew --in ./demo-creds --server localhost:%d --bundle ./demo-creds/bundle.pem

                Ctrl-C stops the server; state stays in %s.
                """, td, server.grpcPort(), https ? "HTTPS" : "HTTP", https ? "https" : "http", server.httpPort(), admin, server.rootFingerprint(), server.cryptoProvider(),
                data, server.grpcPort(), td, data, server.grpcPort(), td, server.grpcPort(), server.rootFingerprint(),
                server.grpcPort(), data);
        out.flush();
        return ServerLifecycle.runUntilStopped(server);
    }

    private static boolean positiveDuration(String text) {
        try {
            java.time.Duration d = dev.lanyard.server.Durations.parse(text);
            return !d.isNegative() && !d.isZero();
        } catch (RuntimeException e) {
            return false;
        }
    }

    private void requireFree(int candidate, String what, String option) {
        if (candidate == 0) {
            return;
        }
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), candidate));
        } catch (IOException e) {
            throw new CliFailure("127.0.0.1:" + candidate + " (" + what + ", " + option + ")",
                    "the port is already in use (" + e.getMessage() + "); nothing was created in " + data,
                    "stop what holds it (`ss -ltnp 'sport = :" + candidate + "'` names it; another `lanyard dev`?)"
                            + " or pass " + option + " with a free port", ExitCodes.FAILED);
        }
    }
}
