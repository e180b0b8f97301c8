package dev.lanyard.tools;

import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateJoinTokenResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(footer = {"%nExample:", "  TOKEN=$(./lanyard join-token create --spiffe-id spiffe://lanyard.local/ns/payments/sa/api)"},
        name = "join-token", description = "One-time join tokens for bootstrapping workloads.",
        subcommands = JoinTokenCommand.Create.class)
final class JoinTokenCommand {

    @Command(footer = {"%nExample:", "  TOKEN=$(./lanyard join-token create --spiffe-id spiffe://lanyard.local/ns/payments/sa/api --ttl 5m)"},
        name = "create", description = "Create a join token; only the token goes to stdout.")
    static final class Create implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Mixin
        AdminOptions admin;
        @Option(names = "--spiffe-id", description = "the registered workload the token attests")
        String spiffeId;
        @Option(names = "--agent", description = "a token for a node agent (lanyard-agent) instead of a workload")
        boolean agent;
        @Option(names = "--ttl", converter = DurationConverter.class, description = "how long it stays usable (default 10m)")
        Duration ttl;

        @Override
        public Integer call() throws Exception {
            if ((spiffeId == null) == !agent) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "give exactly one of --spiffe-id (a workload) and --agent (a node agent)");
            }
            CreateJoinTokenRequest.Builder request = CreateJoinTokenRequest.newBuilder().setAgent(agent);
            if (spiffeId != null) {
                request.setSpiffeId(spiffeId);
            }
            if (ttl != null) {
                request.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()));
            }
            CreateJoinTokenResponse token = admin.withAdmin(a -> a.createJoinToken(request.build()));
            spec.commandLine().getErr().println("join token for " + token.getSpiffeId() + ", single use, expires "
                    + Instant.ofEpochSecond(token.getExpiresAt().getSeconds()));
            spec.commandLine().getErr().flush();
            spec.commandLine().getOut().println(token.getToken());
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
