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

    @Test
    void twoTrustDomainsRevokingOneSerialOrJtiAreBothHeldNeitherReplacingTheOther() throws Exception {
        ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
        ManagedChannel nowhere = Grpc.newChannelBuilder("127.0.0.1:1", InsecureChannelCredentials.create())
                .build();
        try (RevocationWatcher watcher = RevocationWatcher.builder().channel(nowhere).scheduler(scheduler).start()) {
            // c.test revokes its certificate and token; b.test then lists the same serial and jti.
            watcher.apply(revoked(1, RevocationTarget.newBuilder().setSerial("c0ffee01").build(), "c.test"));
            watcher.apply(revoked(2, RevocationTarget.newBuilder().setSerial("c0ffee01").build(), "b.test"));
            watcher.apply(revoked(3, RevocationTarget.newBuilder().setJti("shared").build(), "c.test"));
            watcher.apply(revoked(4, RevocationTarget.newBuilder().setJti("shared").build(), "b.test"));

            for (String td : java.util.List.of("c.test", "b.test")) {
                assertThat(watcher.isRevokedSerial("c0ffee01", "spiffe://" + td + "/w")).as(td).isTrue();
                assertThat(watcher.isRevokedJti("shared", "spiffe://" + td + "/w")).as(td).isTrue();
            }
            assertThat(watcher.isRevokedSerial("c0ffee01", "spiffe://d.test/w")).isFalse();
            assertThat(watcher.isRevokedJti("shared", "spiffe://d.test/w")).isFalse();
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
