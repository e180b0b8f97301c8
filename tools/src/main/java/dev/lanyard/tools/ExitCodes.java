package dev.lanyard.tools;

/** The exit status of every command, documented in `lanyard --help`. */
final class ExitCodes {

    /** Done. */
    static final int OK = 0;
    /** Failed here: a file missing or unreadable, a bad input the server never saw. */
    static final int FAILED = 1;
    /** The command line itself is wrong: an unknown or missing option, a malformed value. */
    static final int USAGE = 2;
    /** The server could not be reached or not trusted: connection refused, TLS, no answer. */
    static final int CONNECTION = 3;
    /** The server answered and refused: not registered, not allowed, already used, ... */
    static final int REFUSED = 4;
    /** A verification failed: the audit chain is broken. */
    static final int VERIFICATION = 5;

    private ExitCodes() {
    }
}
