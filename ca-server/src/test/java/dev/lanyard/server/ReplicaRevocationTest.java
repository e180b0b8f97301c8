package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.RenewCertificateRequest;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two replicas on one database: a revocation made on one is enforced and published by the other. */
class ReplicaRevocationTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    Path dir;

    @Test
    void aRevocationOnOneReplicaReachesTheOther() throws Exception {
        try (RunningServer first = RunningServer.start(dir);
                LanyardServer second = LanyardServer.start(ServerConfig.dev(dir, 0, 0), first.clock())) {
            first.register(WEB);
            Credential web = first.bootstrap(WEB);

            first.revocations().revoke(RevokeRequest.newBuilder()
                    .setTarget(RevocationTarget.newBuilder().setSerial(web.leaf().getSerialNumber().toString(16))).build());

            String keyId = second.caRotation().active().ca().intermediate().keyId();
            await(() -> second.crls().forIssuer(keyId).orElseThrow().entries() == 1);
            ManagedChannel channel = TlsChannels.open(second.grpcPort(), second.trustBundle(), web);
            try {
                StatusRuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(
                        StatusRuntimeException.class, () -> CertificateServiceGrpc.newBlockingStub(channel)
                                .withDeadlineAfter(30, TimeUnit.SECONDS)
                                .renewCertificate(RenewCertificateRequest.newBuilder()
                                        .setCsr(com.google.protobuf.ByteString.copyFrom(dev.lanyard.testing.Csrs.csr(
                                                dev.lanyard.testing.Csrs.ecP256()))).build()));
                assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(refused.getStatus().getDescription()).contains("is revoked");
            } finally {
                channel.shutdownNow();
            }
        }
    }

    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("within 15 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
