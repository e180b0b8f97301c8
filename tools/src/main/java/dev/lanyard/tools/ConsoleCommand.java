package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.v1.ConsoleServiceGrpc;
import dev.lanyard.v1.CreateConsoleLoginRequest;
import dev.lanyard.v1.CreateConsoleLoginResponse;
import io.grpc.ManagedChannel;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** `lanyard console`: a one-time login link for the admin console, bought with the admin credential. */
@Command(footer = {"%nExample:", "  ./lanyard console            # then open the printed link within 60 s"},
        name = "console", description = "Print a single-use login link (valid 60 s) for the admin web console;"
            + " only the link goes to stdout.")
final class ConsoleCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;
    @Mixin
    AdminOptions admin;

    @Override
    public Integer call() throws Exception {
        Credential credential = admin.credential();
        ManagedChannel channel = admin.channel(credential);
        CreateConsoleLoginResponse login;
        try {
            login = ConsoleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .createConsoleLogin(CreateConsoleLoginRequest.getDefaultInstance());
        } finally {
            channel.shutdownNow();
        }
        spec.commandLine().getErr().println("console login link for this admin, single use, expires "
                + Instant.ofEpochSecond(login.getExpiresAt().getSeconds()));
        spec.commandLine().getErr().flush();
        spec.commandLine().getOut().println(login.getUrl());
        spec.commandLine().getOut().flush();
        return 0;
    }
}
