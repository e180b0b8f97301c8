package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.Pem;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.RevokeResponse;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.ASN1Integer;
import org.bouncycastle.asn1.ASN1OctetString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Revocation on a real server: enforcement, idempotency, the CRL (checked by openssl), the watch stream. */
class RevocationServiceTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    static final String API = "spiffe://lanyard.local/ns/shop/sa/api";
    static final String POLICY = """
            version: 1
            grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
            """;

    @TempDir
    Path dir;
    RunningServer lanyard;
    Credential web;
    Credential api;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.publishExampleContracts();
        lanyard.applyPolicy(POLICY);
        lanyard.register(WEB);
        lanyard.register(API);
        web = lanyard.bootstrap(WEB);
        api = lanyard.bootstrap(API);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aRevokedIdentityCanNeitherRenewNorGetTokensNorBootstrap() throws Exception {
        String token = lanyard.tokens(web).issueToken(tokenRequest()).getToken();
        assertThat(token).isNotEmpty();
        long crlNumberBefore = crlNumber(crl());

        RevokeResponse revoked = revoke(identity(WEB), RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, "laptop stolen");

        assertThat(revoked.getCreated()).isTrue();
        assertThat(revoked.getRevokedSerialsList()).containsExactly(serial(web));
        assertThatThrownBy(() -> lanyard.renew(web)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.getStatus().getDescription()).contains(WEB + " is revoked (keyCompromise");
        });
        assertThatThrownBy(() -> lanyard.tokens(web).issueToken(tokenRequest()))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                    assertThat(e.getStatus().getDescription()).contains(WEB + " is revoked");
                });
        String joinToken = lanyard.joinToken(WEB);
        assertThatThrownBy(() -> bootstrapWith(joinToken)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.getStatus().getDescription()).contains(WEB + " is revoked").doesNotContain(joinToken);
        });
        // Another identity is untouched.
        assertThat(lanyard.renew(api).leaf()).isNotNull();

        X509CRL crl = crl();
        assertThat(crlNumber(crl)).isGreaterThan(crlNumberBefore);
        X509CRLEntry entry = crl.getRevokedCertificate(web.leaf().getSerialNumber());
        assertThat(entry).isNotNull();
        assertThat(entry.getRevocationReason()).isEqualTo(java.security.cert.CRLReason.KEY_COMPROMISE);
        assertThat(crl.getRevokedCertificate(api.leaf().getSerialNumber())).isNull();
        crl.verify(web.chain().get(0).getPublicKey());
    }

    @Test
    void opensslParsesTheCrlAndRejectsOnlyTheRevokedCertificate() throws Exception {
        revoke(serialTarget(serial(web)), RevocationReason.REVOCATION_REASON_SUPERSEDED, "");
        Path crlFile = dir.resolve("issuing.crl");
        Files.write(crlFile, crl().getEncoded());
        Path cas = dir.resolve("cas.pem");
        Files.writeString(cas, Pem.certificates(List.of(lanyard.server().trustBundle().get(0), web.chain().get(0))));

        Result parsed = openssl("crl", "-inform", "DER", "-in", crlFile.toString(), "-noout", "-text");
        assertThat(parsed.exit()).isZero();
        assertThat(parsed.output()).contains("Certificate Revocation List", "X509v3 CRL Number",
                web.leaf().getSerialNumber().toString(16).toUpperCase(java.util.Locale.ROOT), "Superseded");

        Path crlPem = dir.resolve("issuing.crl.pem");
        Files.writeString(crlPem, "-----BEGIN X509 CRL-----\n"
                + java.util.Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(crl().getEncoded())
                + "\n-----END X509 CRL-----\n");
        Result revoked = verify(cas, crlPem, web.leaf());
        assertThat(revoked.exit()).isNotZero();
        assertThat(revoked.output()).contains("certificate revoked");
        Result live = verify(cas, crlPem, api.leaf());
        assertThat(live.exit()).as(live.output()).isZero();
    }

    @Test
    void aRevocationWhoseAuditRecordCannotBeStoredIsNotMadeAndAReinstatementLikewise() throws Exception {
        lanyard.refuseAuditRecords("revocation.revoke");
        long crlNumberBefore = crlNumber(crl());

        assertThatThrownBy(() -> revoke(identity(WEB), RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, "stolen"))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL));
        // Nothing of it was kept or told: no revocation, the identity still renews, the CRL is the same.
        assertThat(list("").getRevocationsList()).isEmpty();
        assertThat(lanyard.renew(web).leaf()).isNotNull();
        assertThat(crlNumber(crl())).isEqualTo(crlNumberBefore);
        assertThat(lanyard.server().audit().recent(50)).noneMatch(e -> e.action().equals("revocation.revoke"));

        lanyard.refuseAuditRecords("revocation.reinstate");
        assertThat(revoke(identity(WEB), RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, "stolen").getCreated())
                .isTrue();
        assertThatThrownBy(() -> lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB)
                .setNote("found it").build())).isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL));
        assertThat(list("").getRevocationsList()).extracting(r -> r.getTarget().getSpiffeId()).contains(WEB);
        assertThatThrownBy(() -> lanyard.bootstrap(WEB)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    }

    @Test
    void revokingTwiceIsNotAnErrorAndRecordsOnce() {
        RevokeResponse first = revoke(serialTarget(serial(web)), RevocationReason.REVOCATION_REASON_UNSPECIFIED, "once");
        RevokeResponse second = revoke(serialTarget(serial(web).toUpperCase(java.util.Locale.ROOT)),
                RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, "twice");

        assertThat(second.getCreated()).isFalse();
        assertThat(second.getRevocation().getSequence()).isEqualTo(first.getRevocation().getSequence());
        assertThat(second.getRevocation().getNote()).isEqualTo("once");
        assertThat(list("").getRevocationsList()).hasSize(1);
        // The identity's revocation covers the already revoked certificate without a second entry.
        RevokeResponse identity = revoke(identity(WEB), RevocationReason.REVOCATION_REASON_UNSPECIFIED, "");
        assertThat(identity.getRevokedSerialsList()).containsExactly(serial(web));
        assertThat(list("").getRevocationsList()).hasSize(2);
    }

    @Test
    void badRequestsAreRefusedPreciselyAndStoreNothing() {
        expect(RevokeRequest.getDefaultInstance(), Status.Code.INVALID_ARGUMENT, "target must name");
        expect(request(serialTarget("xyz")), Status.Code.INVALID_ARGUMENT, "hexadecimal");
        expect(request(serialTarget("abcdef0123")), Status.Code.NOT_FOUND, "no certificate with serial abcdef0123");
        expect(request(identity("not a spiffe id")), Status.Code.INVALID_ARGUMENT, "not a SPIFFE ID");
        expect(request(identity("spiffe://elsewhere.example/x")), Status.Code.INVALID_ARGUMENT,
                "not in this server's trust domain");
        String pastedJwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        expect(request(RevocationTarget.newBuilder().setJti(pastedJwt).build()), Status.Code.INVALID_ARGUMENT, "a jti is");
        expect(request(identity(WEB)).toBuilder().setNote("x".repeat(1025)).build(), Status.Code.INVALID_ARGUMENT,
                "the limit is 1024");
        expect(request(identity(WEB)).toBuilder().setNote("a\u001b[31mb").build(), Status.Code.INVALID_ARGUMENT,
                "control characters");
        expect(request(identity(WEB)).toBuilder().setReasonValue(7).build(), Status.Code.INVALID_ARGUMENT,
                "reason 7 is not");
        assertThatThrownBy(() -> lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
        assertThatThrownBy(() -> lanyard.revocations().listRevocations(
                ListRevocationsRequest.newBuilder().setPageSize(1001).build()))
                .isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));

        assertThat(list("").getRevocationsList()).isEmpty();
        assertThat(lanyard.renew(web).leaf()).isNotNull();
        // The pasted token never reaches the audit trail.
        assertThat(lanyard.server().audit().recent(100))
                .noneMatch(e -> (e.target() + e.reason()).contains(pastedJwt));
    }

    @Test
    void aSecretPastedAsTheSpiffeIdIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() {
        String jwt = lanyard.tokens(web).issueToken(tokenRequest()).getToken();
        String joinToken = lanyard.joinToken(API);
        for (String secret : List.of(jwt, joinToken)) {
            refusedWithoutRepeating(() -> lanyard.revocations().revoke(RevokeRequest.newBuilder()
                    .setTarget(identity(secret)).setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build()),
                    secret);
            refusedWithoutRepeating(() -> lanyard.revocations().reinstate(
                    ReinstateRequest.newBuilder().setSpiffeId(secret).build()), secret);
            refusedWithoutRepeating(() -> lanyard.revocations().listRevocations(
                    ListRevocationsRequest.newBuilder().setSpiffeId(secret).build()), secret);
            String described = "invalid spiffe_id (" + secret.length() + " characters)";
            List<AuditEvent> trail = lanyard.server().audit().recent(200);
            for (String action : List.of("revocation.revoke", "revocation.reinstate", "revocation.list")) {
                assertThat(trail).as(action).anyMatch(e -> e.action().equals(action)
                        && e.outcome() == AuditEvent.Outcome.REFUSED && e.target().equals(described));
            }
            assertThat(trail).allSatisfy(e -> assertThat(e.toString())
                    .doesNotContain(secret).doesNotContain(secret.substring(secret.length() - 16)));
        }
        assertThat(list("").getRevocationsList()).isEmpty();
    }

    @Test
    void aSecretPastedIntoANoteIsRefusedAndNeverRecorded() {
        lanyard.revocations().revoke(RevokeRequest.newBuilder().setTarget(identity(API))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
        for (String secret : PastedSecrets.of(lanyard)) {
            for (String note : List.of(secret, "pasted by mistake: " + secret)) {
                PastedSecrets.refusedWithoutRepeating(() -> lanyard.revocations().revoke(RevokeRequest.newBuilder()
                        .setTarget(identity(WEB)).setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE)
                        .setNote(note).build()), Status.Code.INVALID_ARGUMENT, secret);
                PastedSecrets.refusedWithoutRepeating(() -> lanyard.revocations().reinstate(ReinstateRequest.newBuilder()
                        .setSpiffeId(API).setNote(note).build()), Status.Code.INVALID_ARGUMENT, secret);
            }
            PastedSecrets.assertRefusedRecord(lanyard, "revocation.revoke", WEB);
            PastedSecrets.assertRefusedRecord(lanyard, "revocation.reinstate", API);
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
        assertThat(list("spiffe_id").getRevocationsList()).extracting(r -> r.getTarget().getSpiffeId())
                .containsExactly(API);
    }

    private static void refusedWithoutRepeating(Runnable call, String secret) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains("not a SPIFFE ID")
                    .doesNotContain(secret.substring(secret.length() - 16));
        });
    }

    @Test
    void anIdentityNeverRegisteredIsRevokedOnlyWithForceAndThenCannotBeRegisteredUntilReinstated() {
        String unknown = "spiffe://lanyard.local/ns/shop/sa/future";
        expect(request(identity(unknown)), Status.Code.NOT_FOUND, unknown + " was never registered and holds no"
                + " certificate; check the SPIFFE ID, or revoke it with force (lanyard revoke --force)");
        assertThat(list("spiffe_id").getRevocationsList()).isEmpty();
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("revocation.revoke");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
            assertThat(e.reason()).doesNotContain("force=true");
        });

        RevokeResponse forced = lanyard.revocations().revoke(request(identity(unknown)).toBuilder().setForce(true)
                .setNote("decommissioned before it shipped").build());
        assertThat(forced.getCreated()).isTrue();
        assertThat(forced.getRevokedSerialsList()).isEmpty();
        assertThat(list("spiffe_id").getRevocationsList()).singleElement()
                .satisfies(r -> assertThat(r.getTarget().getSpiffeId()).isEqualTo(unknown));
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("revocation.revoke");
            assertThat(e.target()).contains(unknown);
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
            assertThat(e.reason()).contains("force=true", "decommissioned before it shipped");
        });
        // force changes nothing for an identity the server knows, nor for one already revoked
        assertThat(lanyard.revocations().revoke(request(identity(unknown)).toBuilder().setForce(true).build())
                .getCreated()).isFalse();

        assertThatThrownBy(() -> lanyard.register(unknown)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains(unknown + " is revoked",
                    "lanyard reinstate --spiffe-id " + unknown);
        });
        assertThat(lanyard.admin().listRegistrations(dev.lanyard.v1.ListRegistrationsRequest.getDefaultInstance())
                .getRegistrationsList()).noneMatch(r -> r.getSpiffeId().equals(unknown));

        lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(unknown).build());
        lanyard.register(unknown);
        assertThat(lanyard.renew(lanyard.bootstrap(unknown)).leaf()).isNotNull();
    }

    @Test
    void reinstatingLetsTheIdentityBootstrapAgainButItsOldCertificateStaysRevoked() {
        revoke(identity(WEB), RevocationReason.REVOCATION_REASON_AFFILIATION_CHANGED, "");

        long sequence = lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB)
                .setNote("back").build()).getSequence();

        assertThat(sequence).isPositive();
        Credential fresh = lanyard.bootstrap(WEB);
        assertThat(lanyard.renew(fresh).leaf()).isNotNull();
        assertThatThrownBy(() -> lanyard.renew(web)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getDescription()).contains("certificate " + serial(web) + " is revoked"));
        assertThat(list("spiffe_id").getRevocationsList()).isEmpty();
        assertThat(list("serial").getRevocationsList()).hasSize(1);
    }

    @Test
    void listingPagesAndFilters() {
        for (int i = 0; i < 5; i++) {
            revoke(RevocationTarget.newBuilder().setJti("jti-" + i).build(), RevocationReason.REVOCATION_REASON_UNSPECIFIED, "");
        }
        revoke(serialTarget(serial(api)), RevocationReason.REVOCATION_REASON_UNSPECIFIED, "");

        var page1 = lanyard.revocations().listRevocations(ListRevocationsRequest.newBuilder().setPageSize(4).build());
        var page2 = lanyard.revocations().listRevocations(ListRevocationsRequest.newBuilder().setPageSize(4)
                .setPageToken(page1.getNextPageToken()).build());

        assertThat(page1.getRevocationsList()).hasSize(4);
        assertThat(page2.getRevocationsList()).hasSize(2);
        assertThat(page2.getNextPageToken()).isEmpty();
        assertThat(list("jti").getRevocationsList()).hasSize(5);
        assertThat(lanyard.revocations().listRevocations(ListRevocationsRequest.newBuilder().setSpiffeId(API).build())
                .getRevocationsList()).singleElement()
                .satisfies(r -> assertThat(r.getTarget().getSerial()).isEqualTo(serial(api)));
    }

    @Test
    void watchersGetEveryEventInOrderAndResumeFromTheirLastSequence() throws Exception {
        revoke(RevocationTarget.newBuilder().setJti("before").build(), RevocationReason.REVOCATION_REASON_UNSPECIFIED, "");
        BlockingQueue<Object> stream = watch(api, 0);

        RevocationEvent replayed = next(stream);
        assertThat(replayed.getRevoked().getTarget().getJti()).isEqualTo("before");
        RevocationEvent caughtUp = next(stream);
        assertThat(caughtUp.hasHeartbeat()).isTrue();
        assertThat(caughtUp.getSequence()).isEqualTo(replayed.getSequence());
        assertThat(caughtUp.getHeartbeat().getInterval().getSeconds()).isEqualTo(5);

        revoke(identity(WEB), RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, "");
        RevocationEvent identity = next(stream);
        RevocationEvent certificate = next(stream);
        assertThat(identity.getRevoked().getTarget().getSpiffeId()).isEqualTo(WEB);
        assertThat(certificate.getRevoked().getTarget().getSerial()).isEqualTo(serial(web));
        assertThat(certificate.getRevoked().getSpiffeId()).isEqualTo(WEB);
        assertThat(certificate.getSequence()).isEqualTo(identity.getSequence() + 1);

        lanyard.revocations().reinstate(ReinstateRequest.newBuilder().setSpiffeId(WEB).build());
        RevocationEvent reinstated = next(stream);
        assertThat(reinstated.getReinstated().getSpiffeId()).isEqualTo(WEB);

        BlockingQueue<Object> resumed = watch(api, identity.getSequence());
        assertThat(next(resumed).getSequence()).isEqualTo(certificate.getSequence());
        assertThat(next(resumed).getSequence()).isEqualTo(reinstated.getSequence());
        assertThat(next(resumed).hasHeartbeat()).isTrue();
    }

    @Test
    void watchingNeedsACertificateAndASequenceThisServerHanded() throws Exception {
        assertThat(error(watch(null, 0)).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        Status future = error(watch(api, 1_000));
        assertThat(future.getCode()).isEqualTo(Status.Code.OUT_OF_RANGE);
        assertThat(future.getDescription()).contains("watch again from 0");
        assertThat(error(watch(api, -1)).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    }

    @Test
    void revocationsSurviveARestartAndTheCrlStillListsThem() throws Exception {
        RevokeResponse revoked = revoke(identity(WEB), RevocationReason.REVOCATION_REASON_KEY_COMPROMISE, "");
        long crlNumber = crlNumber(crl());

        lanyard.restart();

        assertThatThrownBy(() -> lanyard.renew(web)).isInstanceOf(StatusRuntimeException.class);
        X509CRL crl = crl();
        assertThat(crl.getRevokedCertificate(web.leaf().getSerialNumber())).isNotNull();
        assertThat(crlNumber(crl)).isGreaterThan(crlNumber);
        BlockingQueue<Object> stream = watch(api, revoked.getRevocation().getSequence());
        assertThat(next(stream).getRevoked().getTarget().getSerial()).isEqualTo(serial(web));
    }

    @Test
    void expiredCertificatesDropOutOfTheCrl() throws Exception {
        revoke(serialTarget(serial(web)), RevocationReason.REVOCATION_REASON_UNSPECIFIED, "");
        assertThat(crl().getRevokedCertificates()).hasSize(1);

        lanyard.clock().advance(Duration.ofHours(2));
        lanyard.server().crls().regenerate();

        assertThat(crl().getRevokedCertificates()).isNull();
        assertThat(list("").getRevocationsList()).isEmpty();
    }

    // --- helpers

    private RevokeResponse revoke(RevocationTarget target, RevocationReason reason, String note) {
        return lanyard.revocations().revoke(RevokeRequest.newBuilder().setTarget(target).setReason(reason)
                .setNote(note).build());
    }

    private static RevokeRequest request(RevocationTarget target) {
        return RevokeRequest.newBuilder().setTarget(target).build();
    }

    private void expect(RevokeRequest request, Status.Code code, String message) {
        assertThatThrownBy(() -> lanyard.revocations().revoke(request))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(code);
                    assertThat(e.getStatus().getDescription()).contains(message);
                });
    }

    private dev.lanyard.v1.ListRevocationsResponse list(String kind) {
        return lanyard.revocations().listRevocations(ListRevocationsRequest.newBuilder().setKind(kind).build());
    }

    private static RevocationTarget identity(String id) {
        return RevocationTarget.newBuilder().setSpiffeId(id).build();
    }

    private static RevocationTarget serialTarget(String serial) {
        return RevocationTarget.newBuilder().setSerial(serial).build();
    }

    private static String serial(Credential credential) {
        return credential.leaf().getSerialNumber().toString(16);
    }

    private static IssueTokenRequest tokenRequest() {
        return IssueTokenRequest.newBuilder().setAudience("payments").addScopes("payments.read").build();
    }

    private void bootstrapWith(String joinToken) {
        lanyard.certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(joinToken))
                .setCsr(ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build());
    }

    private X509CRL crl() throws Exception {
        String keyId = lanyard.server().caRotation().active().ca().intermediate().keyId();
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/crl/" + keyId))).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/pkix-crl");
        assertThat(response.headers().firstValue("ETag")).isPresent();
        return (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(response.body()));
    }

    private static long crlNumber(X509CRL crl) {
        byte[] extension = crl.getExtensionValue("2.5.29.20");
        BigInteger number = ASN1Integer.getInstance(ASN1OctetString.getInstance(extension).getOctets()).getValue();
        return number.longValueExact();
    }

    private BlockingQueue<Object> watch(Credential client, long after) {
        BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
        RevocationServiceGrpc.newStub(lanyard.channel(client)).watchRevocations(
                WatchRevocationsRequest.newBuilder().setAfterSequence(after).build(), new StreamObserver<>() {
                    @Override
                    public void onNext(RevocationEvent value) {
                        queue.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        queue.add(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                        queue.add(Status.OK);
                    }
                });
        return queue;
    }

    private static RevocationEvent next(BlockingQueue<Object> stream) throws InterruptedException {
        Object item = stream.poll(10, TimeUnit.SECONDS);
        assertThat(item).as("an event within 10 s").isInstanceOf(RevocationEvent.class);
        return (RevocationEvent) item;
    }

    private static Status error(BlockingQueue<Object> stream) throws InterruptedException {
        Object item = stream.poll(10, TimeUnit.SECONDS);
        assertThat(item).isInstanceOf(Status.class);
        return (Status) item;
    }

    private record Result(int exit, String output) {
    }

    private Result verify(Path cas, Path crl, X509Certificate leaf) throws Exception {
        Path leafFile = Files.createTempFile(dir, "leaf", ".pem");
        Files.writeString(leafFile, Pem.certificates(List.of(leaf)));
        return openssl("verify", "-crl_check", "-CAfile", cas.toString(), "-CRLfile", crl.toString(),
                leafFile.toString());
    }

    private static Result openssl(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>();
        command.add(OpensslBinary.path());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Result(process.exitValue(), output);
    }
}
