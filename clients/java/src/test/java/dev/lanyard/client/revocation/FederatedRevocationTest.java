package dev.lanyard.client.revocation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.v1.Revocation;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationTarget;
import io.grpc.ManagedChannel;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.Test;

/** A revocation a federated trust domain made (Lanyard passes it on tagged) refuses only that trust domain's. */
class FederatedRevocationTest {

    @Test
    void aFederatedRevocationRefusesOnlyItsOwnTrustDomain() throws Exception {
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        // Nothing listens on port 1: the events are fed to the watcher directly.
        ManagedChannel nowhere = Grpc.newChannelBuilder("127.0.0.1:1", InsecureChannelCredentials.create())
                .build();
        try (RevocationWatcher watcher = RevocationWatcher.builder().channel(nowhere).scheduler(scheduler).start()) {
            watcher.apply(revoked(1, RevocationTarget.newBuilder().setSerial("AB01").build(), "b.test"));
            watcher.apply(revoked(2, RevocationTarget.newBuilder().setJti("jb").build(), "b.test"));
            watcher.apply(revoked(3, RevocationTarget.newBuilder().setJti("ours").build(), ""));

            assertThat(watcher.isRevokedSerial("ab01", "spiffe://b.test/ledger")).isTrue();
            assertThat(watcher.isRevokedJti("jb", "spiffe://b.test/ledger")).isTrue();
            // b.test cannot revoke what another trust domain's peers hold; our own revocations apply to all.
            assertThat(watcher.isRevokedSerial("ab01", "spiffe://c.test/x")).isFalse();
            assertThat(watcher.isRevokedJti("jb", "spiffe://c.test/x")).isFalse();
            assertThat(watcher.isRevokedJti("ours", "spiffe://c.test/x")).isTrue();
            // Asked without an identity, a verifier errs on the side of refusing.
            assertThat(watcher.isRevokedSerial("ab01")).isTrue();
        } finally {
            nowhere.shutdownNow();
            scheduler.shutdownNow();
        }
    }

    private static RevocationEvent revoked(long sequence, RevocationTarget target, String trustDomain) {
        return RevocationEvent.newBuilder().setSequence(sequence).setRevoked(Revocation.newBuilder()
                .setSequence(sequence).setTarget(target).setTrustDomain(trustDomain)).build();
    }
}
