package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** --help, -h and `help` work at every level and print exactly that command's usage, with an example. */
class CliHelpTest {

    @Test
    void everyCommandAndSubcommandTakesHelpEvenWithRequiredOptions() {
        List<String> paths = new ArrayList<>();
        collect(Lanyard.commandLine(), "", paths);
        assertThat(paths).contains("cert issue", "keys rotate", "revoke", "dev", "audit verify", "completion");
        for (String path : paths) {
            List<String> args = new ArrayList<>(List.of(path.split(" ")));
            for (String flag : List.of("--help", "-h")) {
                List<String> withFlag = new ArrayList<>(args);
                withFlag.add(flag);
                CliRun run = CliRun.run(withFlag.toArray(String[]::new));
                assertThat(run.exit()).as(path + " " + flag + ": " + run.err()).isZero();
                assertThat(run.out()).as(path + " " + flag).startsWith("Usage: lanyard " + path + " ");
            }
            List<String> viaHelp = new ArrayList<>(List.of("help"));
            viaHelp.addAll(args);
            CliRun help = CliRun.run(viaHelp.toArray(String[]::new));
            assertThat(help.exit()).as("help " + path + ": " + help.err()).isZero();
            assertThat(help.out()).as("help " + path).startsWith("Usage: lanyard " + path + " ");
            if (!path.startsWith("bench") && !path.equals("help")) { // bench belongs to another change
                assertThat(help.out()).as("help " + path).contains("Example:");
                // Examples are pasted into a shell: none is wrapped inside a word onto an unindented line.
                String examples = help.out().substring(help.out().indexOf("Example:") + "Example:".length());
                assertThat(examples.lines().filter(line -> !line.isBlank() && !line.startsWith(" ")))
                        .as("help " + path + ": an example wrapped").isEmpty();
            }
        }
    }

    @Test
    void theTopLevelHelpDocumentsTheExitCodes() {
        CliRun run = CliRun.run("--help");
        assertThat(run.out()).contains("Exit status:", "3   connection", "4   refused by the server");
    }

    @Test
    void helpOfAnUnknownCommandIsAUsageError() {
        CliRun run = CliRun.run("help", "cert", "nope");
        assertThat(run.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("unknown command at index 2 (4 characters) in `lanyard cert`; it has: issue, renew");
    }

    @Test
    void aGroupCommandAloneSaysWhichSubcommandsItHas() {
        CliRun run = CliRun.run("cert");
        assertThat(run.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("error: Missing required subcommand", "issue", "renew");
    }

    @Test
    void completionScriptsCoverEveryCommand() {
        CliRun bash = CliRun.run("completion", "bash");
        assertThat(bash.exit()).isZero();
        assertThat(bash.out()).contains("complete -F _complete_lanyard", "issue", "renew", "--root-fingerprint");
        CliRun zsh = CliRun.run("completion", "zsh");
        assertThat(zsh.out()).startsWith("autoload -U +X compinit").contains("bashcompinit");
        assertThat(CliRun.run("completion", "fish").exit()).isEqualTo(ExitCodes.USAGE);
    }

    private static void collect(CommandLine commandLine, String prefix, List<String> paths) {
        commandLine.getSubcommands().forEach((name, sub) -> {
            String path = prefix.isEmpty() ? name : prefix + " " + name;
            paths.add(path);
            collect(sub, path, paths);
        });
    }
}
