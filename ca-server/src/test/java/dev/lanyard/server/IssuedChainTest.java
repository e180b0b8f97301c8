package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.Pem;
import dev.lanyard.testing.RunningServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The chain a workload receives validates with independent implementations and is exactly the profile. */
class IssuedChainTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/ledger/sa/writer";

    @TempDir
    static Path dir;
    static RunningServer lanyard;
    static Credential credential;

    @BeforeAll
    static void issue() throws Exception {
        lanyard = RunningServer.start(dir.resolve("data"));
        lanyard.register(WORKLOAD);
        credential = lanyard.bootstrap(WORKLOAD);
    }

    @AfterAll
    static void stop() {
        lanyard.close();
    }

    @Test
    void validatesWithTheJdkPkixValidator() throws Exception {
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(credential.bundle().get(0), null)));
        parameters.setRevocationEnabled(false);
        parameters.setDate(Date.from(lanyard.clock().instant()));
        CertPathValidator.getInstance("PKIX").validate(
                factory.generateCertPath(List.of(credential.leaf(), credential.chain().get(0))), parameters);
    }

    @Test
    void validatesWithOpenssl() throws Exception {
        Path root = write("root.pem", Pem.certificates(credential.bundle()));
        Path intermediate = write("intermediate.pem", Pem.certificates(credential.chain()));
        Path leaf = write("leaf.pem", Pem.certificates(List.of(credential.leaf())));
        Process openssl = new ProcessBuilder(OpensslBinary.path(), "verify", "-x509_strict", "-purpose", "sslclient",
                "-CAfile", root.toString(), "-untrusted", intermediate.toString(), leaf.toString())
                .redirectErrorStream(true).start();
        assertThat(openssl.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String output = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(output).contains(leaf + ": OK");
        assertThat(openssl.exitValue()).isZero();
    }

    @Test
    void leafIsExactlyTheX509SvidProfile() throws Exception {
        X509Certificate leaf = credential.leaf();
        assertThat(leaf.getVersion()).isEqualTo(3);
        assertThat(leaf.getSubjectAlternativeNames()).singleElement()
                .isEqualTo(List.of(6, WORKLOAD));
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getCriticalExtensionOIDs()).contains("2.5.29.19", "2.5.29.15");
        // digitalSignature only for an EC key.
        assertThat(leaf.getKeyUsage()).containsExactly(true, false, false, false, false, false, false, false, false);
        assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(leaf.getExtensionValue("2.5.29.14")).as("SKI").isNotNull();
        assertThat(leaf.getExtensionValue("2.5.29.35")).as("AKI").isNotNull();
        assertThat(new String(leaf.getExtensionValue("2.5.29.31"), StandardCharsets.ISO_8859_1))
                .as("CRL distribution point").contains("/crl");
        assertThat(leaf.getSerialNumber().bitLength()).isBetween(100, 128);
        Duration lifetime = Duration.between(leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant());
        assertThat(lifetime).isEqualTo(Duration.ofHours(1).plusSeconds(10));
        assertThat(leaf.getNotBefore().toInstant()).isBefore(lanyard.clock().instant());
        assertThat(leaf.getIssuerX500Principal()).isEqualTo(credential.chain().get(0).getSubjectX500Principal());
    }

    private static Path write(String name, String pem) throws Exception {
        return Files.writeString(dir.resolve(name), pem);
    }
}
