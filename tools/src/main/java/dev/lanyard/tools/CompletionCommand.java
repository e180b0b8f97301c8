package dev.lanyard.tools;

import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Shell completion for every command and option. */
@Command(name = "completion", description = "Print a shell completion script for bash or zsh.",
        footer = {"%nExample:", "  source <(./lanyard completion bash)      # in ~/.bashrc",
            "  source <(./lanyard completion zsh)       # in ~/.zshrc"})
final class CompletionCommand implements Callable<Integer> {

    enum Shell { bash, zsh }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SHELL", description = "bash or zsh")
    Shell shell;

    @Override
    public Integer call() {
        // picocli's script serves both: under zsh it loads bashcompinit first.
        String script = AutoComplete.bash("lanyard", spec.root().commandLine());
        if (shell == Shell.zsh) {
            script = "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" + script;
        }
        spec.commandLine().getOut().print(script);
        spec.commandLine().getOut().flush();
        return ExitCodes.OK;
    }
}
