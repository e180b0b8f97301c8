package dev.lanyard.tools;

import dev.lanyard.policy.InvalidPolicyException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * The one place where an exception becomes what a person reads: what was tried, what went wrong
 * in words, what to do, and the exit status. gRPC statuses are read down their cause chain, so a
 * refused connection, a TLS refusal and a port that does not speak TLS read differently.
 */
final class Errors {

    private static final String GRPC_PORT_HINT =
            "pass --server HOST:PORT with the server's gRPC port (8443 by default; `lanyard dev` prints it)";

    private Errors() {
    }

    /**
     * @param e      what the command threw
     * @param server the --server the command used (HOST:PORT), or null if it has none
     */
    static CliFailure explain(Throwable e, String server) {
        if (e instanceof CliFailure failure) {
            return failure;
        }
        if (e instanceof StatusRuntimeException s) {
            return status(s.getStatus(), server);
        }
        if (e instanceof StatusException s) {
            return status(s.getStatus(), server);
        }
        if (e instanceof NoSuchFileException missing) {
            return new CliFailure(missing.getFile(), "no such file or directory", "check the path", ExitCodes.FAILED);
        }
        if (e instanceof AccessDeniedException denied) {
            return new CliFailure(denied.getFile(), "permission denied",
                    "run as the user that owns it, or fix its permissions", ExitCodes.FAILED);
        }
        if (e instanceof FileAlreadyExistsException exists) {
            // Files a command writes once (an archive, a backup) are never overwritten.
            return new CliFailure(exists.getFile(), "exists already", "name a new file, or move the old one away",
                    ExitCodes.FAILED);
        }
        if (e instanceof NotDirectoryException notDir) {
            return new CliFailure(notDir.getFile(), "not a directory", "pass a directory", ExitCodes.FAILED);
        }
        if (e instanceof FileSystemException fs) {
            return new CliFailure(fs.getFile(), fs.getReason() == null ? "cannot be read or written" : fs.getReason(),
                    "check the path and its permissions", ExitCodes.FAILED);
        }
        if (e instanceof InvalidPolicyException policy) {
            return new CliFailure("policy", policy.getMessage(),
                    "fix the file; `lanyard policy show` prints the policy in force in the same format",
                    ExitCodes.FAILED);
        }
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new CliFailure("lanyard", message, "", ExitCodes.FAILED);
    }

    static CliFailure status(Status status, String server) {
        String where = server == null ? "the server" : server;
        String said = status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
        return switch (status.getCode()) {
            case UNAVAILABLE -> unavailable(status, server, where);
            case DEADLINE_EXCEEDED -> new CliFailure(where, "no answer before the deadline",
                    "is the server overloaded, or is this a port that accepts connections but does not speak gRPC? "
                            + GRPC_PORT_HINT, ExitCodes.CONNECTION);
            case UNAUTHENTICATED -> new CliFailure(where, "refused: " + said,
                    "a join token works once and expires; create a new one with `lanyard join-token create`",
                    ExitCodes.REFUSED);
            case PERMISSION_DENIED -> new CliFailure(where, "refused: " + said,
                    "the answer names what is not allowed; admin verbs need an admin credential (--admin DIR or"
                            + " --data DIR)", ExitCodes.REFUSED);
            case NOT_FOUND -> new CliFailure(where, "refused: " + said,
                    "check the name; `lanyard registration list`, `lanyard certs list` and `lanyard revocations list`"
                            + " show what exists", ExitCodes.REFUSED);
            case RESOURCE_EXHAUSTED -> new CliFailure(where, "refused: " + said, "wait a moment and try again",
                    ExitCodes.REFUSED);
            case UNIMPLEMENTED -> new CliFailure(where, "refused: " + said,
                    "the server is older than this command line, or this is not a Lanyard server; " + GRPC_PORT_HINT,
                    ExitCodes.REFUSED);
            default -> new CliFailure(where, "refused: " + said, "", ExitCodes.REFUSED);
        };
    }

    /** UNAVAILABLE covers every way a connection fails; the cause chain says which. */
    private static CliFailure unavailable(Status status, String server, String where) {
        for (Throwable c = status.getCause(); c != null; c = c.getCause()) {
            if (c instanceof ServerTrust.Refused refused) {
                boolean wrongServer = refused.getMessage().contains("this is not the Lanyard server");
                return new CliFailure(where, "TLS: " + refused.getMessage(), wrongServer
                        ? "this address reaches another TLS service; " + GRPC_PORT_HINT
                        : "is --server the Lanyard server you trust? A dev server started in a new --data directory"
                                + " has a new root: use its bundle.pem or the fingerprint it printed",
                        ExitCodes.CONNECTION);
            }
            if (c.getClass().getSimpleName().equals("NotSslRecordException")
                    || lower(c).contains("not an ssl/tls record") || lower(c).contains("unrecognized ssl message")) {
                return new CliFailure(where, "TLS: the server did not answer in TLS (is this the HTTP port?)",
                        GRPC_PORT_HINT, ExitCodes.CONNECTION);
            }
            if (c instanceof ConnectException) {
                return new CliFailure(where, "connection refused: nothing is listening on that port",
                        "start the server (`./lanyard dev`), or " + GRPC_PORT_HINT, ExitCodes.CONNECTION);
            }
            if (c instanceof UnknownHostException) {
                return new CliFailure(where, "unknown host: the name does not resolve", "check the host in --server",
                        ExitCodes.CONNECTION);
            }
            if (c instanceof NoRouteToHostException || c instanceof SocketTimeoutException) {
                return new CliFailure(where, "cannot reach the host (" + c.getMessage() + ")",
                        "check the address and any firewall between here and there", ExitCodes.CONNECTION);
            }
            if (lower(c).contains("handshake timed out") && server != null && PortProbe.answersPlainHttp(server)) {
                return new CliFailure(where, "TLS: the server did not answer in TLS; it answers plain HTTP (this is the HTTP port)",
                        GRPC_PORT_HINT, ExitCodes.CONNECTION);
            }
            if (lower(c).contains("alpn")) {
                return new CliFailure(where, "TLS: the server does not speak HTTP/2, so not gRPC (is this the"
                        + " HTTPS publication port?)", GRPC_PORT_HINT, ExitCodes.CONNECTION);
            }
            if (c instanceof SSLException && !(c.getCause() instanceof SSLException)
                    && !(c.getCause() instanceof java.security.cert.CertificateException)) {
                return new CliFailure(where, "TLS handshake failed: " + c.getMessage(),
                        "is this the Lanyard server's gRPC port? " + GRPC_PORT_HINT, ExitCodes.CONNECTION);
            }
        }
        String said = status.getDescription() == null ? "unavailable" : status.getDescription();
        if (said.contains("Connection closed") || said.contains("connection closed")) {
            return new CliFailure(where, "the server closed the connection during the TLS handshake ("
                    + said + ")", "is this the Lanyard server's gRPC port? " + GRPC_PORT_HINT, ExitCodes.CONNECTION);
        }
        return new CliFailure(where, "cannot talk to the server: " + said,
                "check that the server is running; " + GRPC_PORT_HINT,
                ExitCodes.CONNECTION);
    }

    private static String lower(Throwable t) {
        return String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
    }
}
