package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.ca.CaKeyStore;
import dev.lanyard.ca.StoredCaKey;
import dev.lanyard.credential.Credential;
import dev.lanyard.rotation.KeyStatus;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.AddRootResponse;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.RotateKeysRequest;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generated CA (Lanyard holds the root key) rotates its root: on demand (`ca add-root --generate`)
 * or by itself when its root would cut the next intermediate short. The new root is in the bundle
 * before the intermediate under it signs; the old one leaves once the last certificate under it expired.
 */
class GeneratedRootRotationTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/roots/sa/app";

    @TempDir
    Path dir;
    RunningServer lanyard;

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void anAdminAddsAGeneratedRootAndTheNextIntermediateChainsToIt() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.register(WORKLOAD);
        var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
        X509Certificate oldRoot = lanyard.server().trustBundle().get(0);
        Credential before = lanyard.bootstrap(WORKLOAD);

        AddRootResponse added = keys.addRoot(AddRootRequest.newBuilder().setGenerate(true).build());
        List<X509Certificate> bundle = lanyard.server().trustBundle();
        assertThat(bundle).hasSize(2).startsWith(oldRoot);
        X509Certificate newRoot = bundle.get(1);
        assertThat(added.getBundlePem()).contains("BEGIN CERTIFICATE");
        assertThat(lanyard.renew(before).chain()).as("nothing chains to the new root yet").isEqualTo(before.chain());

        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        lanyard.clock().advance(Duration.ofMinutes(10));
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        Credential peer = lanyard.bootstrap(WORKLOAD);
        Credential after = lanyard.renew(before);
        assertThat(lanyard.chainsTo(after, List.of(newRoot))).isTrue();
        assertThat(lanyard.chainsTo(after, List.of(oldRoot))).isFalse();
        assertThat(lanyard.chainsTo(peer, lanyard.server().trustBundle())).isTrue();
        assertThat(after.bundle()).containsExactlyInAnyOrder(oldRoot, newRoot);

        lanyard.clock().advance(Duration.ofHours(25));
        lanyard.server().rotateNow();
        assertThat(lanyard.server().trustBundle()).containsExactly(newRoot);

        // Out of the bundle, the old root is never used again: its key is destroyed, as the server's own audited step.
        CaKeyStore store = lanyard.server().caRotation().store();
        StoredCaKey oldRootRow = store.repository().all().stream().filter(k -> store.certificate(k).equals(oldRoot))
                .findFirst().orElseThrow();
        assertThat(oldRootRow.status()).isEqualTo(KeyStatus.DROPPED);
        assertThat(oldRootRow.custodyKeyId()).isEmpty();
        assertThat(lanyard.server().audit().recent(50))
                .filteredOn(e -> e.action().equals("key.rotate") && e.actor().equals("lanyard"))
                .extracting(AuditEvent::target).containsOnlyOnce("x509 drop root " + oldRootRow.id());
    }

    @Test
    void theServerMakesANewRootWhenItsRootWouldCutTheNextIntermediateShort() throws Exception {
        lanyard = RunningServer.start(dir, Map.of("ca.root-ttl", "400d"));
        X509Certificate oldRoot = lanyard.server().trustBundle().get(0);
        // The next intermediate is prepared a publish lead before day 182.5; the root has ~218 days left then.
        lanyard.clock().advance(Duration.ofDays(182).plusHours(12).minusMinutes(10));
        lanyard.server().rotateNow();
        List<X509Certificate> bundle = lanyard.server().trustBundle();
        assertThat(bundle).hasSize(2).startsWith(oldRoot);
        assertThat(lanyard.server().caRotation().intermediates()).extracting(k -> k.status().name())
                .containsExactlyInAnyOrder("ACTIVE", "PREPARED");
        lanyard.clock().advance(Duration.ofMinutes(10));
        lanyard.server().rotateNow();
        X509Certificate active = lanyard.server().caRotation().active().ca().intermediate().certificate();
        assertThat(active.getIssuerX500Principal()).isEqualTo(bundle.get(1).getSubjectX500Principal());
        assertThat(active.getNotAfter().toInstant()).as("a full intermediate lifetime under the new root")
                .isAfter(lanyard.clock().instant().plus(Duration.ofDays(364)));
        lanyard.clock().advance(Duration.ofHours(25));
        lanyard.server().rotateNow();
        assertThat(lanyard.server().trustBundle()).containsExactly(bundle.get(1));
    }
}
