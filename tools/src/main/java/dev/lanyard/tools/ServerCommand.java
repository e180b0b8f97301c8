package dev.lanyard.tools;

import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(footer = {"%nExample:", "  ./lanyard server --config /etc/lanyard/server.properties   # every setting: docs/server.properties"},
        name = "server", description = "Run a production server from a configuration file.")
final class ServerCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, description = "the server properties file (see docs/server.properties)")
    Path config;

    @Override
    public Integer call() throws Exception {
        ServerConfig loaded = ServerConfig.load(config);
        LogFormats.apply(loaded.logFormat());
        LeakDetection.offUnlessAsked();
        LanyardServer server = LanyardServer.start(loaded);
        return ServerLifecycle.runUntilStopped(server);
    }
}
