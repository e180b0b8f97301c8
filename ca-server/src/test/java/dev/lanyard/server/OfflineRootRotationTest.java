package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.OfflineRoot;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.ImportIntermediateRequest;
import dev.lanyard.v1.KeyInfo;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListKeysRequest;
import dev.lanyard.v1.ListKeysResponse;
import dev.lanyard.v1.PrepareIntermediateRequest;
import dev.lanyard.v1.PrepareIntermediateResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CA imported with its root offline rotates its intermediate through `ca prepare` → offline
 * signature → `ca import-intermediate`, and rotates its root through `ca add-root`, under a moved
 * clock, without a certificate anyone holds failing to verify against the bundle of the moment.
 */
class OfflineRootRotationTest {

    private static final String TD = "lanyard.local";
    private static final String WORKLOAD = "spiffe://" + TD + "/ns/offline/sa/app";

    @TempDir
    Path dir;
    OfflineRoot root;
    RunningServer lanyard;
    KeyServiceGrpc.KeyServiceBlockingStub keys;

    @BeforeEach
    void start() throws Exception {
        root = OfflineRoot.create(TD, Clock.systemUTC());
        Map<String, String> settings = new HashMap<>(root.importSettings(dir));
        // The admin credential must outlive the months the clock moves (it is written once, at start).
        settings.put("admin.credential-ttl", "360d");
        lanyard = RunningServer.start(dir.resolve("data"), settings);
        lanyard.register(WORKLOAD);
        keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void theIntermediateRotatesThroughAnOfflineSignatureWithNoFailedVerification() throws Exception {
        X509Certificate first = lanyard.server().caRotation().active().ca().intermediate().certificate();
        Instant handOver = midpoint(first);
        assertThat(x509().getWarningsList()).isEmpty();
        assertThat(metric("lanyard_ca_successor_missing")).isEqualTo(0.0);

        // Day 70: a third of the lifetime before the hand-over, nothing prepared, and the server cannot
        // make a successor itself.
        lanyard.clock().advance(Duration.ofDays(70));
        lanyard.server().rotateNow();
        assertThat(statuses()).containsExactly("ACTIVE");
        assertThat(x509().getWarningsList()).singleElement().asString()
                .contains("no successor is prepared", "lanyard ca prepare", first.getNotAfter().toInstant().toString());
        assertThat(metric("lanyard_ca_successor_missing")).isEqualTo(1.0);

        PrepareIntermediateResponse prepared = keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance());
        assertThat(prepared.getCsrPem()).startsWith("-----BEGIN CERTIFICATE REQUEST-----");
        assertThat(prepared.getExisting()).isFalse();
        PrepareIntermediateResponse again = keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance());
        assertThat(again.getExisting()).isTrue();
        assertThat(again.getCsrPem()).isEqualTo(prepared.getCsrPem());
        assertThat(statuses()).as("a key without its certificate is not a successor yet").containsExactly("ACTIVE");

        ListKeysResponse imported = keys.importIntermediate(ImportIntermediateRequest.newBuilder()
                .setCertificatePem(root.sign(prepared.getCsrPem(), Duration.ofDays(365), lanyard.clock().instant()))
                .build());
        assertThat(imported.getKeysList()).extracting(KeyInfo::getStatus).containsExactlyInAnyOrder("ACTIVE", "PREPARED");
        assertThat(imported.getKeysList().get(1).getKeyId()).isEqualTo(prepared.getKeyId());
        assertThat(imported.getWarningsList()).isEmpty();
        assertThat(metric("lanyard_ca_successor_missing")).isEqualTo(0.0);
        assertThat(lanyard.server().audit().recent(50)).filteredOn(e -> e.action().equals("ca.import-intermediate"))
                .singleElement().satisfies(e -> assertThat(e.outcome().name()).isEqualTo("SUCCESS"));

        // Published, not signing: until the hand-over the old intermediate signs.
        lanyard.clock().set(handOver.minus(Duration.ofMinutes(30)));
        lanyard.server().rotateNow();
        assertThat(statuses()).containsExactlyInAnyOrder("ACTIVE", "PREPARED");
        Credential justBefore = lanyard.bootstrap(WORKLOAD);
        assertThat(justBefore.chain().get(0)).isEqualTo(first);

        lanyard.clock().set(handOver.plusSeconds(1));
        lanyard.server().rotateNow();
        assertThat(statuses()).containsExactly("RETIRED", "ACTIVE");
        // The old certificate is still accepted (renewal over mTLS) and verifies, as does the new one.
        Credential after = lanyard.renew(justBefore);
        assertThat(after.chain().get(0).getPublicKey()).isNotEqualTo(first.getPublicKey());
        assertThat(after.chain().get(0).getSerialNumber()).isNotEqualTo(first.getSerialNumber());
        for (Credential c : List.of(justBefore, after)) {
            assertThat(lanyard.chainsTo(c, lanyard.server().trustBundle())).isTrue();
        }
        assertThat(lanyard.server().trustBundle()).containsExactly(root.certificate());

        // Once everything the old intermediate signed has expired, it is dropped; the root stays.
        lanyard.clock().advance(Duration.ofHours(25));
        lanyard.server().rotateNow();
        assertThat(statuses()).containsExactly("DROPPED", "ACTIVE");
        assertThat(lanyard.server().trustBundle()).containsExactly(root.certificate());
    }

    @Test
    void aNewOfflineRootIsPublishedBeforeAnythingChainsToItAndTheOldOneLeavesLast() throws Exception {
        X509Certificate first = lanyard.server().caRotation().active().ca().intermediate().certificate();
        OfflineRoot next = OfflineRoot.create(TD, Clock.systemUTC());
        lanyard.clock().advance(Duration.ofDays(100));

        // An intermediate under the new root is refused until the new root is in the bundle.
        PrepareIntermediateResponse prepared = keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance());
        String underNext = next.sign(prepared.getCsrPem(), Duration.ofDays(365), lanyard.clock().instant());
        assertThat(RpcRefusals.of(() -> keys.importIntermediate(ImportIntermediateRequest.newBuilder()
                .setCertificatePem(underNext).build()))).startsWith("INVALID_ARGUMENT")
                .contains("not signed by a root in the trust bundle", "lanyard ca add-root");

        var added = keys.addRoot(AddRootRequest.newBuilder().setCertificatePem(next.certificatePem()).build());
        assertThat(added.getSha256Fingerprint()).isEqualTo(dev.lanyard.crypto.Pem.sha256Fingerprint(next.certificate()));
        assertThat(lanyard.server().trustBundle()).containsExactly(root.certificate(), next.certificate());
        assertThat(lanyard.server().bundles().current().proto().getX509AuthoritiesCount()).isEqualTo(2);
        Credential old = lanyard.bootstrap(WORKLOAD);

        keys.importIntermediate(ImportIntermediateRequest.newBuilder().setCertificatePem(underNext).build());
        lanyard.clock().set(midpoint(first).minus(Duration.ofMinutes(30)));
        Credential justBefore = lanyard.renew(lanyard.bootstrap(WORKLOAD));
        lanyard.clock().set(midpoint(first).plusSeconds(1));
        lanyard.server().rotateNow();
        assertThat(statuses()).containsExactly("RETIRED", "ACTIVE");
        Credential after = lanyard.renew(justBefore);
        List<X509Certificate> bundle = lanyard.server().trustBundle();
        assertThat(bundle).containsExactly(root.certificate(), next.certificate());
        assertThat(lanyard.chainsTo(after, List.of(next.certificate()))).as("the new chain ends at the new root").isTrue();
        assertThat(lanyard.chainsTo(after, List.of(root.certificate()))).isFalse();
        assertThat(lanyard.chainsTo(justBefore, bundle)).isTrue();
        assertThat(lanyard.chainsTo(after, bundle)).isTrue();
        assertThat(after.bundle()).as("what the renewal answered").containsExactlyInAnyOrderElementsOf(bundle);

        // The old root leaves when the last intermediate under it is dropped: after its certificates expired.
        lanyard.clock().advance(Duration.ofHours(23));
        lanyard.server().rotateNow();
        assertThat(lanyard.server().trustBundle()).containsExactly(root.certificate(), next.certificate());
        lanyard.clock().advance(Duration.ofHours(2));
        lanyard.server().rotateNow();
        assertThat(statuses()).containsExactly("DROPPED", "ACTIVE");
        assertThat(lanyard.server().trustBundle()).containsExactly(next.certificate());
        assertThat(lanyard.server().bundles().current().proto().getX509AuthoritiesCount()).isOne();
        assertThat(old.leaf().getNotAfter().toInstant()).isBefore(lanyard.clock().instant());
    }

    static Instant midpoint(X509Certificate certificate) {
        Instant notBefore = certificate.getNotBefore().toInstant();
        return notBefore.plus(Duration.between(notBefore, certificate.getNotAfter().toInstant()).dividedBy(2));
    }

    private ListKeysResponse x509() {
        return keys.listKeys(ListKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
    }

    private List<String> statuses() {
        return lanyard.server().caRotation().intermediates().stream().map(k -> k.status().name()).toList();
    }

    private double metric(String name) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics")))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        return body.lines().filter(l -> l.startsWith(name + " ")).map(l -> Double.parseDouble(l.split(" ")[1]))
                .findFirst().orElseThrow(() -> new AssertionError(name + " is not in /metrics"));
    }
}
