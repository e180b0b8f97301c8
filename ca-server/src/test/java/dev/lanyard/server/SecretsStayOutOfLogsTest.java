package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.LogCapture;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.IssueCertificateRequest;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Join tokens and private keys never reach a log line or an error, whatever happens. */
class SecretsStayOutOfLogsTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/secrets/sa/test";

    @TempDir
    Path dir;

    @Test
    void aWholeLifeOfSuccessesAndRefusalsLogsNoSecret() throws Exception {
        try (LogCapture logs = new LogCapture(); RunningServer lanyard = RunningServer.start(dir)) {
            lanyard.register(WORKLOAD);
            String token = lanyard.joinToken(WORKLOAD);
            IssueCertificateRequest request = IssueCertificateRequest.newBuilder()
                    .setAttestation(RunningServer.joinTokenAttestation(token))
                    .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build();
            lanyard.certificates(null).issueCertificate(request);
            StatusRuntimeException reuse = (StatusRuntimeException) org.assertj.core.api.Assertions
                    .catchThrowable(() -> lanyard.certificates(null).issueCertificate(request));
            assertThatThrownBy(() -> lanyard.certificates(null).issueCertificate(request.toBuilder()
                    .setCsr(ByteString.copyFrom(new byte[] {1, 2, 3})).build()))
                    .isInstanceOf(StatusRuntimeException.class);
            lanyard.renew(lanyard.bootstrap(WORKLOAD));
            lanyard.restart();

            String secret = token.substring(token.indexOf('.') + 1);
            assertThat(reuse.getStatus().getDescription()).doesNotContain(secret);
            assertThat(logs.lines()).isNotEmpty().allSatisfy(line -> assertThat(line)
                    .doesNotContain(secret)
                    .doesNotContain("PRIVATE KEY"));
        }
    }
}
