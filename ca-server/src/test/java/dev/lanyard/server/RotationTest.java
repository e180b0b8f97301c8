package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.RotateKeysRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import dev.lanyard.v1.WatchTrustBundleRequest;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The issuing CA and the JWT keys rotate under a moved clock without anyone losing the ability to verify. */
class RotationTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/rotation/sa/app";

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.register(WORKLOAD);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aWorkloadRenewingAcrossACaRotationIsAlwaysVerifiableByItsPeers() throws Exception {
        var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        Credential before = lanyard.bootstrap(WORKLOAD);
        Credential peer = lanyard.bootstrap(WORKLOAD);

        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        Credential duringPrepare = lanyard.renew(before);
        assertThat(duringPrepare.chain()).as("a prepared CA does not sign yet").isEqualTo(before.chain());

        lanyard.clock().advance(Duration.ofMinutes(10));
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        Credential after = lanyard.renew(duringPrepare);
        assertThat(after.chain()).isNotEqualTo(before.chain());
        assertThat(after.bundle()).as("same root: verifiers need no new trust").isEqualTo(before.bundle());

        // The old intermediate stays trusted while its certificates live: an old credential still renews.
        Credential peerRenewed = lanyard.renew(peer);
        assertThat(peerRenewed.chain()).isEqualTo(after.chain());
        for (Credential c : List.of(before, duringPrepare, after, peerRenewed)) {
            validates(c);
        }
        assertThat(keys.listKeys(dev.lanyard.v1.ListKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build())
                .getKeysList()).extracting(k -> k.getStatus()).containsExactlyInAnyOrder("RETIRED", "ACTIVE");
    }

    @Test
    void scheduledRotationHappensAtHalfTheIntermediateLifetime() {
        Credential before = lanyard.bootstrap(WORKLOAD);
        // Intermediates live 365 days in dev: the next is prepared before day 182.5 and activated then.
        lanyard.clock().advance(Duration.ofDays(182).plusHours(12).minusMinutes(10));
        lanyard.server().rotateNow();
        lanyard.clock().advance(Duration.ofMinutes(10));
        lanyard.server().rotateNow();
        List<String> statuses = lanyard.server().caRotation().intermediates().stream()
                .map(k -> k.status().name()).toList();
        assertThat(statuses).containsExactly("RETIRED", "ACTIVE");
        // Scheduled steps are audited as the server's own actions.
        assertThat(lanyard.server().audit().recent(200))
                .filteredOn(e -> e.action().equals("key.rotate") && e.actor().equals("lanyard"))
                .extracting(e -> e.target().replaceAll(" [^ ]+$", "")) // each names its key
                .contains("x509 prepare", "x509 activate", "jwt bootstrap");
        // A certificate of the retired CA still renews: the old intermediate is trusted while its leaves live.
        assertThat(before.chain()).isNotEmpty();
    }

    @Test
    void theDevAdminCredentialIsWrittenAgainAtHalfLifeAndAfterACaRotationWithoutARestart() {
        Credential first = lanyard.adminCredential();
        lanyard.server().rotateNow();
        assertThat(lanyard.adminCredential().leaf()).as("nothing due: kept").isEqualTo(first.leaf());

        // Half of its 24 hours: the next tick writes a new one from the same CA.
        lanyard.clock().advance(Duration.ofHours(12).plusMinutes(1));
        lanyard.server().rotateNow();
        Credential renewed = lanyard.adminCredential();
        assertThat(renewed.leaf()).isNotEqualTo(first.leaf());
        assertThat(renewed.privateKey()).isNotEqualTo(first.privateKey());
        assertThat(renewed.chain()).isEqualTo(first.chain());
        assertThat(listsKeys(first)).as("the old one serves until it expires").isTrue();

        // The issuing CA rotates at half its life: the credential comes from the new CA at that tick,
        // long after the first one expired.
        lanyard.clock().advance(Duration.ofDays(182).minusMinutes(10));
        lanyard.server().rotateNow();
        lanyard.clock().advance(Duration.ofMinutes(10));
        lanyard.server().rotateNow();
        Credential rotated = lanyard.adminCredential();
        assertThat(rotated.chain()).isNotEqualTo(renewed.chain())
                .containsExactly(lanyard.server().caRotation().active().ca().intermediate().certificate());
        assertThat(listsKeys(rotated)).isTrue();
        assertThat(listsKeys(first)).as("expired").isFalse();
        // Written at start, at half-life, when the clock jumped past its life, and after the rotation.
        assertThat(lanyard.server().audit().recent(200)).filteredOn(e -> e.action().equals("certificate.local")
                && e.target().startsWith("spiffe://lanyard.local/lanyard/admin ")).hasSize(4);
    }

    private boolean listsKeys(Credential admin) {
        try {
            KeyServiceGrpc.newBlockingStub(lanyard.channel(admin)).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .listKeys(dev.lanyard.v1.ListKeysRequest.getDefaultInstance());
            return true;
        } catch (io.grpc.StatusRuntimeException e) {
            return false;
        }
    }

    @Test
    void watchersReceiveEveryBundleChange() throws Exception {
        LinkedBlockingQueue<TrustBundle> received = new LinkedBlockingQueue<>();
        TrustBundleServiceGrpc.newStub(lanyard.channel(null)).watchTrustBundle(WatchTrustBundleRequest.getDefaultInstance(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(TrustBundle value) {
                        received.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        TrustBundle first = received.poll(10, TimeUnit.SECONDS);
        assertThat(first).isNotNull();
        assertThat(first.getJwtAuthoritiesCount()).isOne();
        KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
        TrustBundle next = received.poll(10, TimeUnit.SECONDS);
        assertThat(next).isNotNull();
        assertThat(next.getSequence()).isGreaterThan(first.getSequence());
        assertThat(next.getJwtAuthoritiesList()).extracting(a -> a.getStatus())
                .containsExactlyInAnyOrder("ACTIVE", "PREPARED");
    }

    private void validates(Credential c) throws Exception {
        PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(c.bundle().get(0), null)));
        parameters.setRevocationEnabled(false);
        parameters.setDate(Date.from(lanyard.clock().instant()));
        CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509")
                .generateCertPath(List.of(c.leaf(), c.chain().get(0))), parameters);
    }
}
