package dev.lanyard.testing;

import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import java.nio.file.Path;

/**
 * A dev server in a process of its own, for tests that kill it: args are the data directory and
 * the gRPC and HTTP ports (0 for any). Prints "READY grpcPort httpPort" once serving.
 */
public final class DevServerProcess {

    private DevServerProcess() {
    }

    public static void main(String[] args) throws Exception {
        LanyardServer server = LanyardServer.start(ServerConfig.dev(Path.of(args[0]),
                Integer.parseInt(args[1]), Integer.parseInt(args[2])));
        System.out.println("READY " + server.grpcPort() + " " + server.httpPort());
        System.out.flush();
        server.awaitTermination();
    }
}
