package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.ListCertificatesRequest;
import dev.lanyard.v1.RenewCertificateRequest;
import io.grpc.Status;
import org.bouncycastle.asn1.DEROctetString;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bootstrap and renewal over real TLS sockets against a real server, including every refusal. */
class CertificateServiceTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/payments/sa/api";

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.register(WORKLOAD, "api.payments.internal");
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void bootstrapThenRenewWithANewKey() {
        Credential first = lanyard.bootstrap(WORKLOAD);
        assertThat(spiffeIdOf(first.leaf())).isEqualTo(WORKLOAD);
        assertThat(first.chain()).hasSize(1);
        assertThat(first.bundle()).containsExactlyElementsOf(lanyard.server().trustBundle());

        Credential renewed = lanyard.renew(first);
        assertThat(spiffeIdOf(renewed.leaf())).isEqualTo(WORKLOAD);
        assertThat(renewed.leaf().getPublicKey()).isNotEqualTo(first.leaf().getPublicKey());
        assertThat(renewed.leaf().getSerialNumber()).isNotEqualTo(first.leaf().getSerialNumber());
        assertThat(issuedCount(WORKLOAD)).isEqualTo(2);
    }

    @Test
    void aSecretPastedAsANameInTheCsrIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() {
        for (String secret : PastedSecrets.of(lanyard)) {
            for (String san : java.util.List.of(secret, "spiffe://" + secret)) {
                String joinToken = lanyard.joinToken(WORKLOAD);
                String refusal = PastedSecrets.refusedWithoutRepeating(() -> lanyard.certificates(null).issueCertificate(
                        IssueCertificateRequest.newBuilder().setAttestation(RunningServer.joinTokenAttestation(joinToken))
                                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256(), san))).build()),
                        Status.Code.PERMISSION_DENIED, secret);
                assertThat(refusal).contains("CSR asks for", "(" + san.length() + " characters)");
            }
            PastedSecrets.assertRefusedRecord(lanyard, "certificate.bootstrap", WORKLOAD);
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
        assertThat(issuedCount(WORKLOAD)).isZero();
    }

    @Test
    void issuedCertificateCarriesTheRequestedAllowedDnsName() {
        KeyPair keys = Csrs.ecP256();
        CertificateResponse response = lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(lanyard.joinToken(WORKLOAD)))
                .setCsr(ByteString.copyFrom(Csrs.csr(keys, WORKLOAD, "api.payments.internal")))
                .build());
        assertThat(response.getSpiffeId()).isEqualTo(WORKLOAD);
        assertThat(response.getSerialNumber()).isEqualTo(RunningServer.x509(response.getCertificate())
                .getSerialNumber().toString(16));
        assertThat(dnsNamesOf(RunningServer.x509(response.getCertificate()))).containsExactly("api.payments.internal");
    }

    @Test
    void aCsrAskingForNoDnsNameGetsEveryRegisteredOne() {
        Credential credential = lanyard.bootstrap(WORKLOAD);
        assertThat(dnsNamesOf(credential.leaf())).containsExactly("api.payments.internal");
    }

    @Test
    void renewalWithAnExpiredCertificateIsRefused() {
        Credential credential = lanyard.bootstrap(WORKLOAD);
        lanyard.clock().advance(Duration.ofHours(1).plusMinutes(1));
        assertRefused(() -> lanyard.renew(credential), Status.Code.UNAUTHENTICATED, "client certificate expired at");
    }

    @Test
    void renewalWithAForeignCertificateIsRefused(@TempDir Path otherDir) throws Exception {
        Credential foreign;
        try (RunningServer other = RunningServer.start(otherDir)) {
            other.register(WORKLOAD);
            foreign = other.bootstrap(WORKLOAD);
        }
        assertRefused(() -> lanyard.renew(foreign), Status.Code.UNAUTHENTICATED, "not issued by this CA");
    }

    @Test
    void renewalWithoutAClientCertificateIsRefused() {
        assertRefused(() -> lanyard.certificates(null).renewCertificate(RenewCertificateRequest.newBuilder()
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build()),
                Status.Code.UNAUTHENTICATED, "needs a client certificate");
    }

    @Test
    void renewalAfterTheRegistrationWasDeletedIsRefused() {
        Credential credential = lanyard.bootstrap(WORKLOAD);
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build());
        assertRefused(() -> lanyard.renew(credential), Status.Code.PERMISSION_DENIED, "has no registration");
    }

    @Test
    void renewalAfterTheRegistrationItRenewedUnderWasDeletedIsRefusedAndStoresNothing() {
        Credential credential = lanyard.renew(lanyard.bootstrap(WORKLOAD)); // the issuer now holds the registration
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build());

        // The registration held in memory lets it sign; the transaction that records the certificate refuses it.
        assertRefused(() -> lanyard.renew(credential), Status.Code.PERMISSION_DENIED, "has no registration");
        assertRefused(() -> lanyard.renew(credential), Status.Code.PERMISSION_DENIED, "has no registration");
        assertThat(issuedCount(WORKLOAD)).isEqualTo(2);
    }

    @Test
    void renewalAfterTheRegistrationWasReplacedFollowsTheNewOne() {
        Credential credential = lanyard.renew(lanyard.bootstrap(WORKLOAD));
        assertThat(dnsNamesOf(credential.leaf())).containsExactly("api.payments.internal");
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build());
        lanyard.admin().createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD)
                .addDnsNames("api-v2.payments.internal")
                .setMaxTtl(com.google.protobuf.Duration.newBuilder().setSeconds(600)).build());

        // Signed first under the registration held in memory, refused in the transaction, decided again.
        Credential renewed = lanyard.renew(credential);
        assertThat(dnsNamesOf(renewed.leaf())).containsExactly("api-v2.payments.internal");
        assertThat(Duration.between(renewed.leaf().getNotBefore().toInstant(), renewed.leaf().getNotAfter().toInstant()))
                .isLessThanOrEqualTo(Duration.ofSeconds(600 + 10));
        assertThat(issuedCount(WORKLOAD)).isEqualTo(3);
    }

    @Test
    void renewalCannotChangeTheIdentity() {
        Credential credential = lanyard.bootstrap(WORKLOAD);
        assertRefused(() -> lanyard.certificates(credential).renewCertificate(RenewCertificateRequest.newBuilder()
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256(), "spiffe://lanyard.local/ns/admin"))).build()),
                Status.Code.PERMISSION_DENIED, "spiffe://lanyard.local/ns/admin");
    }

    @Test
    void aJoinTokenWorksOnce() {
        String token = lanyard.joinToken(WORKLOAD);
        issueWith(token, Csrs.csr(Csrs.ecP256()));
        assertRefused(() -> issueWith(token, Csrs.csr(Csrs.ecP256())), Status.Code.UNAUTHENTICATED, "already used");
        assertThat(issuedCount(WORKLOAD)).isEqualTo(1);
    }

    @Test
    void aStoreFailureRecordingTheCertificateLeavesTheJoinTokenUnused() throws Exception {
        String token = lanyard.joinToken(WORKLOAD);
        lanyard.refuseCertificates(true);
        assertThatThrownBy(() -> issueWith(token, Csrs.csr(Csrs.ecP256())))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isNotEqualTo(Status.Code.OK).isNotEqualTo(Status.Code.UNAUTHENTICATED));
        lanyard.refuseCertificates(false);
        // Nothing was stored half-way: the same token bootstraps once the store works again.
        CertificateResponse issued = issueWith(token, Csrs.csr(Csrs.ecP256()));
        assertThat(spiffeIdOf(RunningServer.x509(issued.getCertificate()))).isEqualTo(WORKLOAD);
        assertThat(issuedCount(WORKLOAD)).isEqualTo(1);
        assertRefused(() -> issueWith(token, Csrs.csr(Csrs.ecP256())), Status.Code.UNAUTHENTICATED, "already used");
    }

    @Test
    void twoBootstrapsWithOneTokenAtOnceIssueExactlyOneCertificate() throws Exception {
        for (int round = 0; round < 5; round++) {
            String token = lanyard.joinToken(WORKLOAD);
            byte[] first = Csrs.csr(Csrs.ecP256());
            byte[] second = Csrs.csr(Csrs.ecP256());
            var start = new java.util.concurrent.CountDownLatch(1);
            var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                var calls = java.util.stream.Stream.of(first, second).map(csr -> pool.submit(() -> {
                    start.await();
                    return issueWith(token, csr);
                })).toList();
                start.countDown();
                int issued = 0;
                for (var call : calls) {
                    try {
                        call.get(60, java.util.concurrent.TimeUnit.SECONDS);
                        issued++;
                    } catch (java.util.concurrent.ExecutionException e) {
                        assertThat(e.getCause()).isInstanceOfSatisfying(StatusRuntimeException.class, refused -> {
                            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                            assertThat(refused.getStatus().getDescription()).isEqualTo("join token was already used");
                        });
                    }
                }
                assertThat(issued).as("round %d", round).isOne();
                assertThat(issuedCount(WORKLOAD)).as("round %d", round).isEqualTo(round + 1);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void anExpiredJoinTokenIsRefused() {
        String token = lanyard.joinToken(WORKLOAD);
        lanyard.clock().advance(Duration.ofMinutes(11));
        assertRefused(() -> issueWith(token, Csrs.csr(Csrs.ecP256())), Status.Code.UNAUTHENTICATED, "expired");
    }

    @Test
    void anUnknownOrMissingJoinTokenIsRefused() {
        String token = lanyard.joinToken(WORKLOAD);
        int i = token.length() - 10;
        String forged = token.substring(0, i) + (token.charAt(i) == 'A' ? 'B' : 'A') + token.substring(i + 1);
        assertRefused(() -> issueWith(forged, Csrs.csr(Csrs.ecP256())), Status.Code.UNAUTHENTICATED, "not known");
        assertRefused(() -> lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                        .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build()),
                Status.Code.INVALID_ARGUMENT, "");
        // The real token is still good: a refused forgery consumed nothing.
        issueWith(token, Csrs.csr(Csrs.ecP256()));
    }

    @Test
    void badCsrsAreRefusedAndConsumeNothing() throws Exception {
        String token = lanyard.joinToken(WORKLOAD);
        byte[] good = Csrs.csr(Csrs.ecP256());
        byte[] tampered = good.clone();
        tampered[tampered.length - 3] ^= 0x01;
        assertRefused(() -> issueWith(token, new byte[] {0x30, 0x03, 0x01}), Status.Code.INVALID_ARGUMENT, "");
        assertRefused(() -> issueWith(token, tampered), Status.Code.INVALID_ARGUMENT, "signature");
        assertRefused(() -> issueWith(token, Csrs.csrSignedWith(Csrs.generate("RSA", 1024), "SHA256withRSA")),
                Status.Code.INVALID_ARGUMENT, "1024");
        assertRefused(() -> issueWith(token, new byte[64 * 1024]), Status.Code.INVALID_ARGUMENT, "");
        assertRefused(() -> issueWith(token, Csrs.csrSignedWith(Csrs.generate("Ed25519", 0), "Ed25519")),
                Status.Code.INVALID_ARGUMENT, "Ed25519 keys are not allowed");
        assertThat(lanyard.server().audit().recent(50)).anyMatch(e -> e.outcome() == AuditEvent.Outcome.REFUSED
                && e.reason().contains("Ed25519 keys are not allowed"));
        // asking for CA powers is refused, not quietly overruled by the leaf profile
        byte[] caRequest = Csrs.csrRequesting(Csrs.ecP256(), new Extension(Extension.basicConstraints, true,
                new DEROctetString(new BasicConstraints(true))));
        assertRefused(() -> issueWith(token, caRequest), Status.Code.INVALID_ARGUMENT, "basic constraints CA:true");
        assertThat(lanyard.server().audit().recent(50)).anyMatch(e -> e.outcome() == AuditEvent.Outcome.REFUSED
                && e.reason().contains("basic constraints CA:true"));
        assertRefused(() -> issueWith(token, Csrs.csr(Csrs.ecP256(), "evil.example")),
                Status.Code.PERMISSION_DENIED, "evil.example");
        assertRefused(() -> issueWith(token, Csrs.csr(Csrs.ecP256(), "spiffe://lanyard.local/ns/other")),
                Status.Code.PERMISSION_DENIED, "spiffe://lanyard.local/ns/other");
        assertThat(issuedCount(WORKLOAD)).isZero();
        issueWith(token, good);
        assertThat(issuedCount(WORKLOAD)).isEqualTo(1);
    }

    @Test
    void ttlIsBoundedByTheRegistration() {
        lanyard.admin().createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId("spiffe://lanyard.local/batch").setMaxTtl(com.google.protobuf.Duration.newBuilder()
                        .setSeconds(600)).build());
        String token = lanyard.joinToken("spiffe://lanyard.local/batch");
        IssueCertificateRequest.Builder request = IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(token))
                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256())));
        assertRefused(() -> lanyard.certificates(null).issueCertificate(request
                        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(3600)).build()),
                Status.Code.INVALID_ARGUMENT, "exceeds the maximum");
        CertificateResponse response = lanyard.certificates(null).issueCertificate(request.clearTtl().build());
        X509Certificate leaf = RunningServer.x509(response.getCertificate());
        assertThat(Duration.between(leaf.getNotBefore().toInstant(), leaf.getNotAfter().toInstant()))
                .isLessThanOrEqualTo(Duration.ofSeconds(600 + 10));
    }

    private CertificateResponse issueWith(String token, byte[] csr) {
        return lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(token))
                .setCsr(ByteString.copyFrom(csr)).build());
    }

    private long issuedCount(String spiffeId) {
        return lanyard.admin().listCertificates(ListCertificatesRequest.newBuilder().setSpiffeId(spiffeId).build())
                .getCertificatesCount();
    }

    static void assertRefused(Runnable call, Status.Code code, String messagePart) {
        assertThatThrownBy(call::run)
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(code);
                    assertThat(e.getStatus().getDescription()).contains(messagePart);
                });
    }

    static String spiffeIdOf(X509Certificate cert) {
        try {
            return cert.getSubjectAlternativeNames().stream()
                    .filter(san -> (Integer) san.get(0) == 6).map(san -> (String) san.get(1)).findFirst().orElseThrow();
        } catch (java.security.cert.CertificateParsingException e) {
            throw new IllegalStateException(e);
        }
    }

    static java.util.List<String> dnsNamesOf(X509Certificate cert) {
        try {
            return cert.getSubjectAlternativeNames().stream()
                    .filter(san -> (Integer) san.get(0) == 2).map(san -> (String) san.get(1)).toList();
        } catch (java.security.cert.CertificateParsingException e) {
            throw new IllegalStateException(e);
        }
    }
}
