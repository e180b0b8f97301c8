package dev.lanyard.tools;

/**
 * A failure said for a person: what was tried (a server address, a file, an option), what went
 * wrong in words, and what to do about it; with the exit status it ends the command with.
 */
final class CliFailure extends RuntimeException {

    private final String tried;
    private final String problem;
    private final String advice;
    private final int exitCode;

    CliFailure(String tried, String problem, String advice, int exitCode) {
        super(tried + ": " + problem);
        this.tried = tried;
        this.problem = problem;
        this.advice = advice;
        this.exitCode = exitCode;
    }

    String tried() {
        return tried;
    }

    String problem() {
        return problem;
    }

    String advice() {
        return advice;
    }

    int exitCode() {
        return exitCode;
    }

    /** "error: TRIED: PROBLEM" and, when there is one, "hint: ADVICE". */
    String render() {
        return "error: " + tried + ": " + problem + (advice.isEmpty() ? "" : System.lineSeparator() + "hint: " + advice);
    }
}
