package dev.lanyard.client.credentials;

import io.grpc.Status;
import java.util.Optional;

/**
 * Lanyard refused or could not be reached for a certificate or a token. The message says which
 * call and why (the server's status and description); it never holds a join token or a token.
 */
public final class CredentialException extends Exception {

    private static final long serialVersionUID = 1L;

    private final transient Status status;

    public CredentialException(String message) {
        super(message);
        this.status = null;
    }

    public CredentialException(String message, Throwable cause) {
        super(message, cause);
        this.status = null;
    }

    CredentialException(String what, Status status) {
        super(what + ": " + status.getCode()
                + (status.getDescription() == null ? "" : ": " + status.getDescription()));
        this.status = status;
    }

    /** The gRPC status Lanyard answered with, when the failure was a gRPC call. */
    public Optional<Status> status() {
        return Optional.ofNullable(status);
    }
}
