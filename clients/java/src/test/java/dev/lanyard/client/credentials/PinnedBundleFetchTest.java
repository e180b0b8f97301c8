package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.lanyard.testing.RunningServer;
import io.grpc.Status;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the pinned root from a real server's published bundle. */
class PinnedBundleFetchTest {

    @TempDir
    Path dataDir;

    @Test
    void findsThePinnedRootInTheServersBundle() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dataDir)) {
            String target = "localhost:" + lanyard.server().grpcPort();

            assertThat(PinnedBundleFetch.pinnedRoot(target, PinnedRoot.parse(lanyard.server().rootFingerprint()),
                    Duration.ofSeconds(30))).isEqualTo(new PinnedBundleFetch.Pinned(lanyard.server().trustBundle().get(0),
                    "lanyard.local"));

            CredentialException e = catchThrowableOfType(CredentialException.class, () -> PinnedBundleFetch.pinnedRoot(
                    target, PinnedRoot.parse("ab".repeat(32)), Duration.ofSeconds(30)));
            assertThat(e).hasMessage("no root in the trust bundle from " + target + " has the pinned fingerprint sha256:"
                    + "ab".repeat(32) + " (it has 1 roots)");
        }
    }

    @Test
    void saysWhenTheServerCannotBeReached() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }

        CredentialException e = catchThrowableOfType(CredentialException.class, () -> PinnedBundleFetch.pinnedRoot(
                "localhost:" + closedPort, PinnedRoot.parse("ab".repeat(32)), Duration.ofSeconds(10)));

        assertThat(e.status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        assertThat(e.getMessage()).startsWith("cannot read the trust bundle from localhost:" + closedPort + ": UNAVAILABLE");
    }
}
