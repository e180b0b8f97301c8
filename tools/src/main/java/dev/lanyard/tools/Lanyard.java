package dev.lanyard.tools;

import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The `lanyard` command line: a dev server, the production server, admin and workload verbs, and benches. */
@Command(name = "lanyard", mixinStandardHelpOptions = true, version = "lanyard 0.1.0",
        description = "Internal certificate authority and service-identity issuer.",
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
            "5:verification failed (the audit chain is broken, a backup is altered or the passphrase wrong)"})
public final class Lanyard {

    /** Columns of --help: picocli would wrap the longest example (113 characters) inside a word at its default 80. */
    private static final int USAGE_WIDTH = 120;

    /**
     * The subcommands, in the order help lists them. Picocli reflects over every command it is given,
     * which loads the classes (and protobuf types) their methods name: a run builds only the command it
     * runs, and the whole tree only for help, completion or a command it does not know.
     */
    private static final List<String> COMMANDS = List.of("dev", "server", "registration", "join-token", "certs", "cert",
            "token", "contracts", "policy", "federation", "keys", "ca", "revoke", "reinstate", "revocations", "audit",
            "backup", "restore", "console", "bench", "help",
            "completion");

    // A switch, not a map of constructor references: a lambda's bootstrap alone costs a start-up measurably.
    private static Object command(String name) {
        return switch (name) {
            case "dev" -> new DevCommand();
            case "server" -> new ServerCommand();
            case "registration" -> new RegistrationCommand();
            case "join-token" -> new JoinTokenCommand();
            case "certs" -> new CertsCommand();
            case "cert" -> new CertCommand();
            case "token" -> new TokenCommand();
            case "contracts" -> new ContractsCommand();
            case "policy" -> new PolicyCommand();
            case "federation" -> new FederationCommand();
            case "keys" -> new KeysCommand();
            case "ca" -> new CaCommand();
            case "revoke" -> new RevocationCommands.Revoke();
            case "reinstate" -> new RevocationCommands.Reinstate();
            case "revocations" -> new RevocationCommands.Revocations();
            case "audit" -> new AuditCommand();
            case "backup" -> new BackupCommand();
            case "restore" -> new RestoreCommand();
            case "console" -> new ConsoleCommand();
            case "bench" -> new BenchCommand();
            case "help" -> new HelpCommand();
            case "completion" -> new CompletionCommand();
            default -> throw new IllegalArgumentException(name);
        };
    }

    public static void main(String[] args) {
        System.exit(commandLine(args).execute(args));
    }

    /** The whole command line; tests run it in-process. */
    public static CommandLine commandLine() {
        return commandLine(new String[0]);
    }

    /** The command line for {@code args}: only the command they name when that is all they need. */
    static CommandLine commandLine(String[] args) {
        CommandLine commandLine = new CommandLine(new Lanyard());
        String first = args.length > 0 ? args[0] : "";
        boolean one = COMMANDS.contains(first) && !first.equals("help") && !first.equals("completion");
        boolean rootOnly = args.length == 1 && (first.equals("--version") || first.equals("-V"));
        if (one) {
            commandLine.addSubcommand(first, command(first));
        } else if (!rootOnly) {
            for (String name : COMMANDS) {
                commandLine.addSubcommand(name, command(name));
            }
        }
        everyCommand(commandLine);
        commandLine.setUsageHelpWidth(USAGE_WIDTH);
        // Anonymous classes, not method references: see command(String).
        commandLine.setExecutionExceptionHandler(new CommandLine.IExecutionExceptionHandler() {
            @Override
            public int handleExecutionException(Exception e, CommandLine cl, CommandLine.ParseResult parseResult) {
                return handle(e, cl, parseResult);
            }
        });
        commandLine.setParameterExceptionHandler(new CommandLine.IParameterExceptionHandler() {
            @Override
            public int handleParseException(CommandLine.ParameterException e, String[] arguments) {
                return usage(e, arguments);
            }
        });
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
        for (CommandLine sub : commandLine.getSubcommands().values()) {
            everyCommand(sub);
        }
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

    /**
     * A usage error: the message and where to read more, not the whole usage text. The message names the
     * arguments it is about by position and length, never their text (see UsageMessage).
     */
    private static int usage(CommandLine.ParameterException e, String[] args) {
        CommandLine commandLine = e.getCommandLine();
        PrintWriter err = commandLine.getErr();
        String subcommands = commandLine.getSubcommands().isEmpty() ? ""
                : " (`" + commandLine.getCommandSpec().qualifiedName() + "` has: "
                        + String.join(", ", commandLine.getSubcommands().keySet()) + ")";
        err.println("error: " + UsageMessage.of(e, args) + subcommands);
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
