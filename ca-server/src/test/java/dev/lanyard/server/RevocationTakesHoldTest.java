package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.RenewCertificateRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.RevokeResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.cert.X509CRL;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Once Revoke returns for an identity, everything it holds is revoked, including what was issued
 * while the revocation was being written; its join tokens are void; a reinstatement lifts only the
 * identity.
 */
class RevocationTakesHoldTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String POLICY = """
            version: 1
            grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
            """;

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.publishExampleContracts();
        lanyard.applyPolicy(POLICY);
        lanyard.register(WEB);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void renewalsRacingAnIdentityRevocationAreAllRevokedOrRefused() throws Exception {
        Credential web = lanyard.bootstrap(WEB);
        ConcurrentLinkedQueue<BigInteger> issued = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch running = new CountDownLatch(4);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            CertificateServiceGrpc.CertificateServiceBlockingStub stub = lanyard.certificates(web);
            Thread thread = new Thread(() -> {
                running.countDown();
                while (!stop.get()) {
                    try {
                        CertificateResponse response = stub.withDeadlineAfter(30, TimeUnit.SECONDS).renewCertificate(
                                RenewCertificateRequest.newBuilder()
                                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build());
                        issued.add(RunningServer.x509(response.getCertificate()).getSerialNumber());
                    } catch (StatusRuntimeException e) {
                        if (e.getStatus().getCode() != Status.Code.PERMISSION_DENIED) {
                            unexpected.add(e);
                        }
                        return; // revoked: refused from now on
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        running.await();
        Thread.sleep(300);
        RevokeResponse revoked = lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(WEB))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
        Thread.sleep(200);
        stop.set(true);
        for (Thread thread : threads) {
            thread.join(30_000);
        }
        assertThat(unexpected).isEmpty();
        assertThat(issued).isNotEmpty();

        Set<String> listed = lanyard.revocations().listRevocations(ListRevocationsRequest.newBuilder()
                        .setSpiffeId(WEB).setKind("serial").setPageSize(1000).build()).getRevocationsList().stream()
                .map(r -> r.getTarget().getSerial()).collect(Collectors.toSet());
        X509CRL crl = lanyard.crl();
        for (BigInteger serial : issued) {
            assertThat(listed).as("serial %s on the revocation list", serial.toString(16)).contains(serial.toString(16));
            assertThat(crl.getRevokedCertificate(serial)).as("serial %s on the CRL", serial.toString(16)).isNotNull();
        }
        assertThat(revoked.getRevokedSerialsList()).contains(web.leaf().getSerialNumber().toString(16));
        // Reinstating lifts the identity, not what was revoked with it: the racing certificates stay refused.
        lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB).build());
        assertThatThrownBy(() -> lanyard.renew(web)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getDescription()).contains("is revoked"));
    }

    @Test
    void revokingAnIdentityVoidsItsJoinTokensAndItsTokensStayRevokedAfterReinstatement() {
        String unused = lanyard.joinToken(WEB);
        Credential web = lanyard.bootstrap(WEB);
        IssueTokenResponse token = lanyard.tokens(web).issueToken(IssueTokenRequest.newBuilder()
                .setAudience("payments").addScopes("payments.read").build());

        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(WEB))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
        lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB).build());

        assertThatThrownBy(() -> lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(unused))
                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
        assertThat(lanyard.revocations().listRevocations(ListRevocationsRequest.newBuilder().setKind("jti").build())
                .getRevocationsList()).anySatisfy(r -> assertThat(r.getTarget().getJti()).isEqualTo(token.getTokenId()));
        // A new join token after the reinstatement works: the identity itself is back.
        assertThat(lanyard.bootstrap(WEB).leaf()).isNotNull();
    }

    @Test
    void revokingAnIdentityThatWasNeverRegisteredIsNotFound() {
        assertThatThrownBy(() -> lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId("spiffe://lanyard.local/ns/typo/sa/web"))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                    assertThat(e.getStatus().getDescription()).contains("never registered");
                });
    }
}
