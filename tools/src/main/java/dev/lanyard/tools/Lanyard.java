package dev.lanyard.tools;

import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `lanyard` command line: a dev server, the production server, admin and workload verbs, and benches. */
@Command(name = "lanyard", mixinStandardHelpOptions = true, version = "lanyard 0.1.0",
        description = "Internal certificate authority and service-identity issuer.",
        subcommands = {
            DevCommand.class, ServerCommand.class, RegistrationCommand.class, JoinTokenCommand.class,
            CertsCommand.class, CertCommand.class, TokenCommand.class, ContractsCommand.class, PolicyCommand.class,
            KeysCommand.class, RevocationCommands.Revoke.class, RevocationCommands.Reinstate.class,
            RevocationCommands.Revocations.class, AuditCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Lanyard {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests run it in-process. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new Lanyard());
        commandLine.setExecutionExceptionHandler(Lanyard::handle);
        return commandLine;
    }

    /** A failure is one line a person can act on; the stack trace only with --verbose. */
    private static int handle(Exception e, CommandLine commandLine, CommandLine.ParseResult parseResult) {
        PrintWriter err = commandLine.getErr();
        if (e instanceof StatusRuntimeException status) {
            err.println("error: " + status.getStatus().getCode() + ": " + status.getStatus().getDescription());
        } else {
            err.println("error: " + e.getMessage());
        }
        if (parseResult.hasMatchedOption("--verbose") || Boolean.getBoolean("lanyard.verbose")) {
            e.printStackTrace(err);
        }
        err.flush();
        return 1;
    }
}
