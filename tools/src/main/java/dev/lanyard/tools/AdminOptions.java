package dev.lanyard.tools;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.v1.AdminServiceGrpc;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/** Where the server is and which admin credential to present (a mixin of every admin verb). */
final class AdminOptions {

    @Option(names = "--server", defaultValue = "localhost:8443", description = "HOST:PORT (default: ${DEFAULT-VALUE})")
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
        CredentialDirectory dir = new CredentialDirectory(adminDir());
        if (!dir.exists()) {
            throw new IOException("no admin credential in " + adminDir() + "; pass --admin DIR or --data DIR");
        }
        return dir.read(CryptoProviders.bouncyCastleOnly());
    }

    /** Runs {@code body} with an admin stub on a channel closed afterwards. */
    <T> T withAdmin(AdminCall<T> body) throws Exception {
        Credential credential = credential();
        ManagedChannel channel = Channels.open(server, credential.bundle(), credential);
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
