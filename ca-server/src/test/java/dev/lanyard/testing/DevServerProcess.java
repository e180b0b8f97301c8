package dev.lanyard.testing;

import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import java.nio.file.Path;

/**
 * A server in a process of its own, for tests that kill it or run several: args are either the
 * data directory and the gRPC and HTTP ports (0 for any) of a dev server, then any extra settings as
 * key=value, or one server.properties file. Prints "READY grpcPort httpPort" once serving.
 */
public final class DevServerProcess {

    private DevServerProcess() {
    }

    public static void main(String[] args) throws Exception {
        java.util.Map<String, String> extra = new java.util.HashMap<>();
        for (int i = 3; i < args.length; i++) {
            extra.put(args[i].substring(0, args[i].indexOf('=')), args[i].substring(args[i].indexOf('=') + 1));
        }
        ServerConfig config = args.length == 1 ? ServerConfig.load(Path.of(args[0]))
                : ServerConfig.dev(Path.of(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]), extra);
        LanyardServer server = LanyardServer.start(config);
        System.out.println("READY " + server.grpcPort() + " " + server.httpPort());
        System.out.flush();
        server.awaitTermination();
    }
}
