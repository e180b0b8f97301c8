package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.v1.AdminServiceGrpc;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/** Where the server is and which admin credential to present (a mixin of every admin verb). */
final class AdminOptions {

    @Option(names = "--server", defaultValue = "${env:LANYARD_SERVER:-localhost:8443}",
                description = "the server's gRPC address HOST:PORT (default: ${DEFAULT-VALUE}; env LANYARD_SERVER)")
    String server;

    @Option(names = "--admin", description = "admin credential directory (cert.pem, key.pem, bundle.pem)")
    Path admin;

    @Option(names = "--data", description = "a dev server's data directory; its admin credential is DIR/admin")
    Path data;

    Path adminDir() {
        if (admin != null) {
            return admin;
        }
        return (data != null ? data : Path.of("lanyard-data")).resolve("admin");
    }

    Credential credential() throws IOException {
        if (!new CredentialDirectory(adminDir()).exists()) {
            throw new CliFailure(adminDir().toString(), "no admin credential here (cert.pem and key.pem)",
                    "pass --data DIR (the data directory of `lanyard dev`, default ./lanyard-data) or --admin DIR"
                            + " (a directory with an admin's cert.pem, key.pem, bundle.pem)", ExitCodes.FAILED);
        }
        return CredentialFiles.read(adminDir(), admin != null ? "--admin" : "admin credential",
                "`lanyard dev` (it writes DATA/admin)");
    }

    /** A channel to --server that trusts the admin credential's bundle and presents the credential. */
    ManagedChannel channel(Credential credential) {
        return Channels.open(server, credential.bundle(), "the roots in " + adminDir().resolve(CredentialDirectory.BUNDLE),
                credential);
    }

    /** Runs {@code body} with an admin stub on a channel closed afterwards. */
    <T> T withAdmin(AdminCall<T> body) throws Exception {
        Credential credential = credential();
        ManagedChannel channel = channel(credential);
        try {
            return body.call(AdminServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS));
        } finally {
            channel.shutdownNow();
        }
    }

    @FunctionalInterface
    interface AdminCall<T> {
        T call(AdminServiceGrpc.AdminServiceBlockingStub admin) throws Exception;
    }
}
