package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.testing.OfflineRoot;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.ImportIntermediateRequest;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListKeysRequest;
import dev.lanyard.v1.PrepareIntermediateRequest;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every bad input to `ca import-intermediate` and `ca add-root` is refused with a status and a message
 * naming what is wrong, stores nothing (the prepared key still waits, no CA row or root is added) and
 * leaves a REFUSED audit record; a good certificate is taken afterwards.
 */
class ImportIntermediateRefusalsTest {

    private static final String TD = "lanyard.local";

    @TempDir
    Path dir;
    OfflineRoot root;
    RunningServer lanyard;
    KeyServiceGrpc.KeyServiceBlockingStub keys;

    @BeforeEach
    void start() throws Exception {
        root = OfflineRoot.create(TD, Clock.systemUTC());
        lanyard = RunningServer.start(dir.resolve("data"), new HashMap<>(root.importSettings(dir)));
        keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void importWithNothingPreparedIsAFailedPrecondition() {
        String certificate = root.certificatePem();
        assertThat(importing(certificate)).isEqualTo("FAILED_PRECONDITION: no intermediate key is prepared: run"
                + " `lanyard ca prepare`, have the offline root sign its CSR, then import that certificate");
        assertRefusedAndAudited("ca.import-intermediate", 1);
    }

    @Test
    void everyBadCertificateIsRefusedAndNothingIsStored() throws Exception {
        String csr = keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance()).getCsrPem();
        Instant now = lanyard.clock().instant();
        OfflineRoot stranger = OfflineRoot.create(TD, Clock.systemUTC());
        Map<String, String> bad = new java.util.LinkedHashMap<>();
        bad.put("", "INVALID_ARGUMENT: certificate_pem is required");
        bad.put("hello, not PEM", "INVALID_ARGUMENT: certificate_pem holds no PEM CERTIFICATE block");
        bad.put("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "INVALID_ARGUMENT: certificate_pem is not PEM certificates");
        bad.put(csr, "INVALID_ARGUMENT: certificate_pem is not PEM certificates: expected CERTIFICATE blocks, found"
                + " CERTIFICATE REQUEST");
        bad.put(root.sign(otherKeyCsr(), Duration.ofDays(300), now),
                "INVALID_ARGUMENT: the certificate is for key ");
        bad.put(stranger.sign(csr, Duration.ofDays(300), now),
                "INVALID_ARGUMENT: the certificate (issuer ");
        bad.put(root.signAsLeaf(csr, now), "INVALID_ARGUMENT: the certificate is not a CA certificate");
        bad.put(root.sign(csr, Duration.ofDays(30), now.minus(Duration.ofDays(60))),
                "INVALID_ARGUMENT: the certificate expired at ");
        bad.put(root.sign(csr, Duration.ofDays(300), now.plus(Duration.ofDays(2))),
                "INVALID_ARGUMENT: the certificate is not valid yet");
        bad.put(root.sign(csr, Duration.ofHours(2), now), "INVALID_ARGUMENT: the certificate is valid only until ");
        for (Map.Entry<String, String> input : bad.entrySet()) {
            assertThat(importing(input.getKey())).as(input.getValue()).startsWith(input.getValue());
        }
        assertThat(importing(stranger.sign(csr, Duration.ofDays(300), now)))
                .contains("not signed by a root in the trust bundle", "lanyard ca add-root");
        assertThat(importing(root.sign(otherKeyCsr(), Duration.ofDays(300), now))).contains("not the prepared key");
        assertRefusedAndAudited("ca.import-intermediate", bad.size() + 2);
        assertThat(lanyard.server().caRotation().store().repository().pending()).as("the prepared key still waits")
                .hasSize(1);

        // The right certificate is taken after all that.
        keys.importIntermediate(ImportIntermediateRequest.newBuilder()
                .setCertificatePem(root.sign(csr, Duration.ofDays(300), now)).build());
        assertThat(lanyard.server().caRotation().intermediates()).extracting(k -> k.status().name())
                .containsExactlyInAnyOrder("ACTIVE", "PREPARED");
        assertThat(lanyard.server().caRotation().store().repository().pending()).isEmpty();
        assertThat(RpcRefusals.of(() -> keys.prepareIntermediate(PrepareIntermediateRequest.getDefaultInstance())))
                .startsWith("FAILED_PRECONDITION: issuing CA").contains("already prepared as the successor");
    }

    @Test
    void badRootsAreRefusedAndNothingIsStored() {
        List<?> before = lanyard.server().trustBundle();
        OfflineRoot other = OfflineRoot.create(TD, Clock.systemUTC());
        String intermediate = dev.lanyard.crypto.Pem.certificates(List.of(
                lanyard.server().caRotation().active().ca().intermediate().certificate()));
        assertThat(adding(AddRootRequest.newBuilder().setCertificatePem(intermediate).build()))
                .isEqualTo("INVALID_ARGUMENT: the certificate is not self-signed: a root signs itself (issuer "
                        + root.certificate().getSubjectX500Principal().getName() + ")");
        assertThat(adding(AddRootRequest.newBuilder().setGenerate(true).build())).isEqualTo("FAILED_PRECONDITION:"
                + " this CA's root keys are offline: add the new root's certificate instead (`lanyard ca add-root FILE`)");
        assertThat(adding(AddRootRequest.newBuilder().build())).startsWith("INVALID_ARGUMENT: give exactly one of");
        assertThat(adding(AddRootRequest.newBuilder().setGenerate(true).setCertificatePem(other.certificatePem())
                .build())).startsWith("INVALID_ARGUMENT: give exactly one of");
        assertThat(adding(AddRootRequest.newBuilder().setCertificatePem("garbage").build()))
                .isEqualTo("INVALID_ARGUMENT: certificate_pem holds no PEM CERTIFICATE block");
        assertThat(adding(AddRootRequest.newBuilder().setCertificatePem(root.certificatePem()).build()))
                .startsWith("ALREADY_EXISTS: root ");
        OfflineRoot foreign = OfflineRoot.create("other.example", Clock.systemUTC());
        assertThat(adding(AddRootRequest.newBuilder().setCertificatePem(foreign.certificatePem()).build()))
                .isEqualTo("INVALID_ARGUMENT: the root names trust domain other.example, not " + TD);
        assertRefusedAndAudited("ca.add-root", 7);
        assertThat(lanyard.server().trustBundle()).isEqualTo(before);
        assertThat(keys.listKeys(ListKeysRequest.getDefaultInstance()).getKeysList())
                .filteredOn(k -> k.getKind() == dev.lanyard.v1.KeyKind.KEY_KIND_X509).hasSize(1);
    }

    private String importing(String pem) {
        return RpcRefusals.of(() -> keys.importIntermediate(ImportIntermediateRequest.newBuilder()
                .setCertificatePem(pem).build()));
    }

    private String adding(AddRootRequest request) {
        return RpcRefusals.of(() -> keys.addRoot(request));
    }

    private void assertRefusedAndAudited(String action, int count) {
        List<AuditEvent> records = lanyard.server().audit().recent(200).stream()
                .filter(e -> e.action().equals(action)).toList();
        assertThat(records).hasSize(count).allSatisfy(e -> {
            assertThat(e.outcome().name()).isEqualTo("REFUSED");
            assertThat(e.actor()).isEqualTo("spiffe://" + TD + "/lanyard/admin");
            assertThat(e.reason()).doesNotContain("PRIVATE KEY");
        });
    }

    /** A CSR of some other key than the prepared one. */
    private static String otherKeyCsr() throws Exception {
        KeyPair keys = dev.lanyard.testing.Csrs.ecP256();
        var csr = new JcaPKCS10CertificationRequestBuilder(new X500Name("CN=someone else"), keys.getPublic())
                .build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()));
        java.io.StringWriter out = new java.io.StringWriter();
        try (PemWriter writer = new PemWriter(out)) {
            writer.writeObject(new PemObject("CERTIFICATE REQUEST", csr.getEncoded()));
        }
        return out.toString();
    }
}
