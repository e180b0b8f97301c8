package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(footer = {"%nExample:", "  ./lanyard token issue --in ./shop-creds --audience payments --scope payments.charge"},
        name = "token", description = "Signed tokens for calling other services.", subcommands = TokenCommand.Issue.class)
final class TokenCommand {

    @Command(footer = {"%nExample:", "  ./lanyard token issue --in ./shop-creds --audience payments --scope payments.charge --ttl 2m"},
        name = "issue", description = "Mint a token with this workload's credential; only the token goes to stdout.")
    static final class Issue implements Callable<Integer> {
        @Spec
        CommandSpec spec;
        @Option(names = "--server", defaultValue = "${env:LANYARD_SERVER:-localhost:8443}",
                description = "the server's gRPC address HOST:PORT (default: ${DEFAULT-VALUE}; env LANYARD_SERVER)")
        String server;
        @Option(names = "--in", required = true, description = "the workload's credential directory")
        Path in;
        @Option(names = "--audience", required = true, description = "the audience of the service to call")
        String audience;
        @Option(names = "--scope", required = true, description = "a scope to hold (repeatable)")
        List<String> scopes = new ArrayList<>();
        @Option(names = "--ttl", converter = DurationConverter.class, description = "lifetime (default 5m)")
        Duration ttl;

        @Override
        public Integer call() throws Exception {
            Credential credential = CredentialFiles.read(in, "--in",
                    "`lanyard cert issue --out DIR` (register the identity and create a join token first)");
            IssueTokenRequest.Builder request = IssueTokenRequest.newBuilder().setAudience(audience).addAllScopes(scopes);
            if (ttl != null) {
                request.setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(ttl.getSeconds()));
            }
            ManagedChannel channel = Channels.open(server, credential.bundle(),
                    "the roots in " + in.resolve(CredentialDirectory.BUNDLE), credential);
            try {
                IssueTokenResponse token = TokenServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(30, TimeUnit.SECONDS).issueToken(request.build());
                spec.commandLine().getErr().println("token " + token.getTokenId() + " for " + audience + ", expires "
                        + Instant.ofEpochSecond(token.getExpiresAt().getSeconds()) + ", key " + token.getKeyId());
                spec.commandLine().getErr().flush();
                spec.commandLine().getOut().println(token.getToken());
                spec.commandLine().getOut().flush();
            } finally {
                channel.shutdownNow();
            }
            return 0;
        }
    }
}
