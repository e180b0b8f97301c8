package dev.lanyard.testing;

import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import java.nio.file.Path;

/**
 * A server in a process of its own, for tests that kill it or run several: args are either the
 * data directory and the gRPC and HTTP ports (0 for any) of a dev server, or one server.properties
 * file. Prints "READY grpcPort httpPort" once serving.
 */
public final class DevServerProcess {

    private DevServerProcess() {
    }

    public static void main(String[] args) throws Exception {
        ServerConfig config = args.length == 1 ? ServerConfig.load(Path.of(args[0]))
                : ServerConfig.dev(Path.of(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]));
        LanyardServer server = LanyardServer.start(config);
        System.out.println("READY " + server.grpcPort() + " " + server.httpPort());
        System.out.flush();
        server.awaitTermination();
    }
}
