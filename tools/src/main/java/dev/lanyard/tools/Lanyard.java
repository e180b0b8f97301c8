package dev.lanyard.tools;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The `lanyard` command line: a dev server, the production server, admin and workload verbs, and benches. */
@Command(name = "lanyard", mixinStandardHelpOptions = true, version = "lanyard 0.1.0",
        description = "Internal certificate authority and service-identity issuer.",
        subcommands = {
            DevCommand.class, ServerCommand.class, RegistrationCommand.class, JoinTokenCommand.class,
            CertsCommand.class, CertCommand.class, TokenCommand.class, ContractsCommand.class, PolicyCommand.class,
            KeysCommand.class, RevocationCommands.Revoke.class, RevocationCommands.Reinstate.class,
            RevocationCommands.Revocations.class, AuditCommand.class, BenchCommand.class, HelpCommand.class,
            CompletionCommand.class},
        footer = {"%nEvery command takes --help; `lanyard help COMMAND [SUBCOMMAND]` says the same.",
            "Admin verbs use ./lanyard-data/admin and localhost:8443 unless told otherwise (--data, --admin, --server;"
                + " LANYARD_SERVER sets the default --server).",
            "A failure prints `error: WHAT WAS TRIED: WHAT WENT WRONG` and a `hint:` line; --verbose (or"
                + " LANYARD_VERBOSE=1) adds the stack trace."},
        exitCodeListHeading = "%nExit status:%n", exitCodeList = {
            "0:done",
            "1:failed here (a file missing or unreadable, a bad input)",
            "2:usage: an unknown or missing option, a malformed value",
            "3:connection: the server could not be reached or not trusted (refused, TLS, no answer)",
            "4:refused by the server (not registered, not allowed, already used, ...)",
            "5:verification failed (the audit chain is broken)"})
public final class Lanyard {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests run it in-process. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new Lanyard());
        everyCommand(commandLine);
        commandLine.setExecutionExceptionHandler(Lanyard::handle);
        commandLine.setParameterExceptionHandler(Lanyard::usage);
        return commandLine;
    }

    /** --help and --version on every command and subcommand, so required options never block --help. */
    private static void everyCommand(CommandLine commandLine) {
        CommandSpec spec = commandLine.getCommandSpec();
        if (!spec.mixinStandardHelpOptions()) {
            spec.mixinStandardHelpOptions(true);
        }
        if (spec.findOption("--verbose") == null && spec.subcommands().isEmpty()) {
            spec.addOption(OptionSpec.builder("--verbose").description("on failure, print the stack trace too").build());
        }
        commandLine.getSubcommands().values().stream().distinct().forEach(Lanyard::everyCommand);
    }

    /** A failure is what was tried, what went wrong and what to do; the stack trace only with --verbose. */
    private static int handle(Exception e, CommandLine commandLine, CommandLine.ParseResult parseResult) {
        PrintWriter err = commandLine.getErr();
        CliFailure failure = Errors.explain(e, server(commandLine));
        err.println(failure.render());
        if (verbose(parseResult)) {
            e.printStackTrace(err);
        }
        err.flush();
        return failure.exitCode();
    }

    /** A usage error: the message and where to read more, not the whole usage text. */
    private static int usage(CommandLine.ParameterException e, String[] args) {
        CommandLine commandLine = e.getCommandLine();
        PrintWriter err = commandLine.getErr();
        String subcommands = commandLine.getSubcommands().isEmpty() ? ""
                : " (`" + commandLine.getCommandSpec().qualifiedName() + "` has: "
                        + String.join(", ", commandLine.getSubcommands().keySet()) + ")";
        err.println("error: " + e.getMessage() + subcommands);
        CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
        err.println("hint: `" + commandLine.getCommandSpec().qualifiedName() + " --help` shows its options and an"
                + " example");
        err.flush();
        return ExitCodes.USAGE;
    }

    private static String server(CommandLine commandLine) {
        OptionSpec option = commandLine.getCommandSpec().findOption("--server");
        return option == null ? null : String.valueOf((Object) option.getValue());
    }

    private static boolean verbose(CommandLine.ParseResult parseResult) {
        for (CommandLine.ParseResult p = parseResult; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return Boolean.getBoolean("lanyard.verbose") || "1".equals(System.getenv("LANYARD_VERBOSE"));
    }
}
