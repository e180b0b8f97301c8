package dev.lanyard.tools;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.Parameters;

/** `lanyard help [COMMAND [SUBCOMMAND...]]`: the usage of exactly that command (picocli's own stops at one level). */
@Command(name = "help", helpCommand = true, mixinStandardHelpOptions = true, description = "Show the usage of a command: `lanyard help cert issue`.")
final class HelpCommand implements CommandLine.IHelpCommandInitializable2, Runnable {

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "the command, and its subcommands, to show")
    List<String> path = new ArrayList<>();

    private CommandLine parent;
    private Help.ColorScheme colors;
    private PrintWriter out;

    @Override
    public void init(CommandLine helpCommandLine, Help.ColorScheme colorScheme, PrintWriter out, PrintWriter err) {
        this.parent = helpCommandLine.getParent();
        this.colors = colorScheme;
        this.out = out;
    }

    @Override
    public void run() {
        CommandLine target = parent;
        for (int i = 0; i < path.size(); i++) {
            String name = path.get(i);
            CommandLine next = target.getSubcommands().get(name);
            if (next == null) {
                // Named by position and length, not text: it may be a token pasted in the wrong place.
                throw new CommandLine.ParameterException(target, "unknown command at index " + (i + 1) + " ("
                        + name.length() + " characters) in `"
                        + target.getCommandSpec().qualifiedName() + "`; it has: "
                        + String.join(", ", target.getSubcommands().keySet()));
            }
            target = next;
        }
        target.usage(out, colors);
        out.flush();
    }
}
