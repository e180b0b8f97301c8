package dev.lanyard.server;

import static dev.lanyard.server.CertificateServiceTest.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.IssueCertificateRequest;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server restarted on the same data directory is the same CA with the same memory. */
class RestartTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/batch/sa/job";

    @TempDir
    Path dir;

    @Test
    void sameCaOldCertificatesRenewUsedTokensStayUsed() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir)) {
            String fingerprint = lanyard.server().rootFingerprint();
            lanyard.register(WORKLOAD);
            String token = lanyard.joinToken(WORKLOAD);
            lanyard.certificates(null).issueCertificate(request(token));
            Credential held = lanyard.bootstrap(WORKLOAD);

            lanyard.restart();

            assertThat(lanyard.server().rootFingerprint()).isEqualTo(fingerprint);
            assertThat(lanyard.server().trustBundle()).containsExactlyElementsOf(held.bundle());
            Credential renewed = lanyard.renew(held);
            assertThat(renewed.chain()).containsExactlyElementsOf(held.chain());
            assertRefused(() -> lanyard.certificates(null).issueCertificate(request(token)),
                    Status.Code.UNAUTHENTICATED, "already used");
        }
    }

    @Test
    void keysAtRestAreEncryptedAndTheKekIsPrivate() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir)) {
            assertThat(Files.getPosixFilePermissions(dir.resolve("kek")))
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(Files.getPosixFilePermissions(dir.resolve("admin").resolve("key.pem")))
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        }
        try (var files = Files.walk(dir)) {
            for (Path file : files.filter(Files::isRegularFile).filter(f -> !f.startsWith(dir.resolve("admin"))).toList()) {
                assertThat(new String(Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1))
                        .as(file.toString()).doesNotContain("PRIVATE KEY");
            }
        }
    }

    private static IssueCertificateRequest request(String token) {
        return IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(token))
                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256())))
                .build();
    }
}
