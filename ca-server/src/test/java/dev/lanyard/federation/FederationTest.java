package dev.lanyard.federation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RefusedRecords;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.ReinstateRequest;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.WatchRevocationsRequest;
import dev.lanyard.testing.WebPki;
import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.FederationServiceGrpc;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.JwtAuthority;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.ListFederationsRequest;
import dev.lanyard.v1.RemoveFederationRequest;
import dev.lanyard.v1.RotateKeysRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real servers with different trust domains federating both ways over HTTPS: A (a.test) serves
 * its bundle endpoint with its SPIFFE certificate and B fetches it as https_spiffe; B (b.test) serves
 * an operator's web certificate and A fetches it as https_web. Each serves the other's bundle in
 * TrustBundleService; a JWT key rotation in B reaches A; while B is down A keeps B's last bundle.
 */
class FederationTest {

    @TempDir
    Path dir;
    final List<AutoCloseable> open = new ArrayList<>();
    LanyardServer a;
    LanyardServer b;

    @AfterEach
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    void twoTrustDomainsFederateBothWaysARotationInBReachesAAndAnOutageKeepsTheLastBundle() throws Exception {
        startAOverSpiffeAndBOverWeb();
        var federationA = FederationServiceGrpc.newBlockingStub(admin(a));
        var federationB = FederationServiceGrpc.newBlockingStub(admin(b));

        // B trusts A's endpoint by A's SPIFFE ID and A's bundle, handed over out of band; a wrong ID fails.
        String aBundle = new String(a.bundles().current().spiffeJson(), StandardCharsets.UTF_8);
        String aEndpoint = "https://localhost:" + a.httpPort() + "/bundle";
        federationB.addFederation(AddFederationRequest.newBuilder().setTrustDomain("a.test")
                .setBundleEndpointUrl(aEndpoint).setProfile(BundleEndpointProfile.HTTPS_SPIFFE)
                .setEndpointSpiffeId("spiffe://a.test/not-the-server").setInitialBundle(aBundle).build());
        awaitTrue(() -> federationB.listFederations(ListFederationsRequest.getDefaultInstance()).getFederations(0)
                .getLastError().contains("not spiffe://a.test/not-the-server"), "B refuses an endpoint with another ID");
        federationB.addFederation(AddFederationRequest.newBuilder().setTrustDomain("a.test")
                .setBundleEndpointUrl(aEndpoint).setProfile(BundleEndpointProfile.HTTPS_SPIFFE)
                .setEndpointSpiffeId(a.config().serverId().toString()).setInitialBundle(aBundle).build());
        // A trusts B's endpoint through the web PKI (here: the operator's web root).
        federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("b.test")
                .setBundleEndpointUrl("https://localhost:" + b.httpPort() + "/bundle")
                .setProfile(BundleEndpointProfile.HTTPS_WEB).build());

        TrustBundle inA = awaitFederated(a, "b.test", bundle -> true);
        assertThat(inA.getX509AuthoritiesList()).containsExactlyElementsOf(
                b.trustBundle().stream().map(dev.lanyard.rpc.Protos::der).toList());
        TrustBundle inB = awaitFederated(b, "a.test", bundle -> true);
        assertThat(inB.getX509AuthoritiesList()).containsExactlyElementsOf(
                a.trustBundle().stream().map(dev.lanyard.rpc.Protos::der).toList());
        assertThat(federationB.listFederations(ListFederationsRequest.getDefaultInstance()).getFederations(0)
                .getLastError()).isEmpty();
        // Each bundle document is its server's own: were the other's bundle part of it, each fetch would
        // change the other's document, and the two would bump each other's sequence every second.
        byte[] aDocument = a.bundles().current().spiffeJson();
        Thread.sleep(3_000);
        assertThat(a.bundles().current().spiffeJson()).isEqualTo(aDocument);

        // A JWT key rotation in B (a new prepared key in B's bundle) reaches A.
        long rotated = System.nanoTime();
        var keys = KeyServiceGrpc.newBlockingStub(admin(b)).rotateKeys(
                RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_JWT).build());
        String prepared = keys.getKeysList().stream().filter(k -> k.getStatus().equals("PREPARED")).findFirst()
                .orElseThrow().getKeyId();
        awaitFederated(a, "b.test", bundle -> bundle.getJwtAuthoritiesList().stream()
                .map(JwtAuthority::getKeyId).anyMatch(prepared::equals));
        Duration convergence = Duration.ofNanos(System.nanoTime() - rotated);
        System.out.println("FEDERATION rotation in B visible in A after " + convergence.toMillis() + " ms");
        TrustBundle beforeOutage = awaitFederated(a, "b.test", bundle -> true);

        // B goes down: A keeps B's last bundle, says why in the listing, audits the failure once.
        b.close();
        open.remove(b);
        awaitTrue(() -> !federationA.listFederations(ListFederationsRequest.getDefaultInstance()).getFederations(0)
                .getLastError().isEmpty(), "A notices B is down");
        Thread.sleep(2_000);
        assertThat(awaitFederated(a, "b.test", bundle -> true)).isEqualTo(beforeOutage);
        assertThat(a.audit().recent(200)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("federation.bundle");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.FAILED);
            assertThat(e.reason()).contains("the last good bundle stays");
        }).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("federation.add");
            assertThat(e.target()).isEqualTo("b.test");
            assertThat(e.actor()).isEqualTo("spiffe://a.test/lanyard/admin");
        });

        // Removing the relationship removes the bundle; bad requests are refused with what is wrong.
        federationA.removeFederation(RemoveFederationRequest.newBuilder().setTrustDomain("b.test").build());
        assertThat(trustBundle(a).getFederatedBundlesList()).isEmpty();
        assertRefused(() -> federationA.removeFederation(RemoveFederationRequest.newBuilder().setTrustDomain("b.test")
                .build()), Status.Code.NOT_FOUND, "does not federate with b.test");
        assertRefused(() -> federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("a.test")
                .setBundleEndpointUrl("https://x/bundle").setProfile(BundleEndpointProfile.HTTPS_WEB).build()),
                Status.Code.INVALID_ARGUMENT, "own trust domain");
        assertRefused(() -> federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("c.test")
                .setBundleEndpointUrl("http://c.test/bundle").setProfile(BundleEndpointProfile.HTTPS_WEB).build()),
                Status.Code.INVALID_ARGUMENT, "must be https://");
        assertRefused(() -> federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("c.test")
                .setBundleEndpointUrl("https://c.test/bundle").setProfile(BundleEndpointProfile.HTTPS_SPIFFE).build()),
                Status.Code.INVALID_ARGUMENT, "needs the endpoint's SPIFFE ID and an initial bundle");
        assertRefused(() -> federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("c.test")
                .setBundleEndpointUrl("https://c.test/bundle").setProfile(BundleEndpointProfile.HTTPS_SPIFFE)
                .setEndpointSpiffeId("spiffe://c.test/server").setInitialBundle("{\"keys\":[]}").build()),
                Status.Code.INVALID_ARGUMENT, "no x509-svid authority");
        assertThat(federationA.listFederations(ListFederationsRequest.getDefaultInstance()).getFederationsList())
                .isEmpty();
    }

    @Test
    void aSecretPastedIntoAnyFieldIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() throws Exception {
        try (RunningServer lanyard = RunningServer.start(dir.resolve("pasted"))) {
            var federation = FederationServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS);
            AddFederationRequest web = AddFederationRequest.newBuilder().setTrustDomain("c.test")
                    .setBundleEndpointUrl("https://c.test/bundle").setProfile(BundleEndpointProfile.HTTPS_WEB).build();
            AddFederationRequest spiffe = web.toBuilder().setProfile(BundleEndpointProfile.HTTPS_SPIFFE)
                    .setEndpointSpiffeId("spiffe://c.test/server").setInitialBundle("{\"keys\":[]}").build();
            for (String secret : PastedSecrets.of(lanyard)) {
                for (AddFederationRequest request : List.of(web.toBuilder().setTrustDomain(secret).build(),
                        web.toBuilder().setBundleEndpointUrl(secret).build(),
                        web.toBuilder().setBundleEndpointUrl("https://" + secret + "/\u0001").build(),
                        web.toBuilder().setBundleEndpointUrl("https://c.test/bundle?access_token=" + secret).build(),
                        web.toBuilder().setBundleEndpointUrl("https://c.test/bundle#" + secret).build(),
                        web.toBuilder().setBundleEndpointUrl("https://operator:" + secret + "@c.test/bundle").build(),
                        spiffe.toBuilder().setEndpointSpiffeId(secret).build(),
                        spiffe.toBuilder().setInitialBundle(secret).build(),
                        spiffe.toBuilder().setInitialBundle("{\"" + secret + "\": ").build())) {
                    PastedSecrets.refusedWithoutRepeating(() -> federation.addFederation(request),
                            Status.Code.INVALID_ARGUMENT, secret);
                }
                PastedSecrets.refusedWithoutRepeating(() -> federation.removeFederation(
                        RemoveFederationRequest.newBuilder().setTrustDomain(secret).build()),
                        Status.Code.INVALID_ARGUMENT, secret);
                PastedSecrets.assertRefusedRecord(lanyard, "federation.add", "c.test");
                if (secret.length() <= 255) {
                    String described = "invalid trust_domain (" + secret.length() + " characters)";
                    PastedSecrets.assertRefusedRecord(lanyard, "federation.add", described);
                    PastedSecrets.assertRefusedRecord(lanyard, "federation.remove", described);
                }
                PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
            }
            // nor a password that is no token: the URL is stored, listed and recorded on success
            String password = "hunter2-correct-horse-battery";
            for (String url : List.of("https://operator:" + password + "@c.test/bundle",
                    "https://" + password + "@c.test/bundle")) {
                assertThat(PastedSecrets.refusedWithoutRepeating(() -> federation.addFederation(web.toBuilder()
                        .setBundleEndpointUrl(url).build()), Status.Code.INVALID_ARGUMENT, password))
                        .contains("bundle_endpoint_url (" + url.length() + " characters)", "user name or password");
            }
            PastedSecrets.assertNotInTheAuditTrail(lanyard, password);
            assertThat(federation.listFederations(ListFederationsRequest.getDefaultInstance()).getFederationsList())
                    .isEmpty();
        }
    }

    @Test
    void aRevocationInBIsPushedToAsWatchersTaggedWithB() throws Exception {
        startAOverSpiffeAndBOverWeb();
        FederationServiceGrpc.newBlockingStub(admin(a)).addFederation(AddFederationRequest.newBuilder()
                .setTrustDomain("b.test").setBundleEndpointUrl("https://localhost:" + b.httpPort() + "/bundle")
                .setProfile(BundleEndpointProfile.HTTPS_WEB).build());
        awaitFederated(a, "b.test", bundle -> true);
        var adminB = AdminServiceGrpc.newBlockingStub(admin(b));
        var revokeB = RevocationServiceGrpc.newBlockingStub(admin(b));
        adminB.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId("spiffe://b.test/ledger").build());
        adminB.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId("spiffe://b.test/gone").build());

        // A local verifier of A watches A's stream, and gets B's revocations on it.
        java.util.concurrent.BlockingQueue<RevocationEvent> watched = new java.util.concurrent.LinkedBlockingQueue<>();
        RevocationServiceGrpc.newStub(admin(a)).watchRevocations(WatchRevocationsRequest.getDefaultInstance(),
                new io.grpc.stub.StreamObserver<>() {
                    @Override
                    public void onNext(RevocationEvent event) {
                        watched.add(event);
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        List<Long> millis = new ArrayList<>();
        for (int run = 0; run < 5; run++) {
            String serial = bootstrap(b, adminB, "spiffe://b.test/ledger").getSerialNumber().toString(16);
            revokeB.revoke(RevokeRequest.newBuilder().setTarget(dev.lanyard.v1.RevocationTarget.newBuilder()
                    .setSerial(serial)).setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE)
                    .setNote("a note that stays in b.test").build());
            long revoked = System.nanoTime();
            RevocationEvent event = awaitEvent(watched, e -> e.getRevoked().getTarget().getSerial().equals(serial));
            millis.add(Duration.ofNanos(System.nanoTime() - revoked).toMillis());
            assertThat(event.getRevoked().getTrustDomain()).isEqualTo("b.test");
            assertThat(event.getRevoked().getReason()).isEqualTo(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE);
            assertThat(event.getRevoked().getNote()).isEmpty(); // what B's admin wrote stays in B
            assertThat(event.getRevoked().getRevokedBy()).isEqualTo("federation b.test");
            assertThat(event.getRevoked().hasExpiresAt()).isTrue();
        }
        millis.sort(Long::compare);
        System.out.println("FEDERATION revocation in B on A's watch stream after " + millis + " ms, median "
                + millis.get(millis.size() / 2) + " ms");

        // An identity revoked in B is revoked in A; reinstated in B, it is reinstated in A.
        revokeB.revoke(RevokeRequest.newBuilder().setTarget(dev.lanyard.v1.RevocationTarget.newBuilder()
                .setSpiffeId("spiffe://b.test/gone")).build());
        awaitEvent(watched, e -> e.getRevoked().getTarget().getSpiffeId().equals("spiffe://b.test/gone")
                && e.getRevoked().getTrustDomain().equals("b.test"));
        revokeB.reinstate(ReinstateRequest.newBuilder().setSpiffeId("spiffe://b.test/gone").build());
        awaitEvent(watched, e -> e.getReinstated().getSpiffeId().equals("spiffe://b.test/gone"));

        // A's own CRL lists none of them: they are B's certificates, and B's CRL lists them.
        assertThat(a.crls().forIssuer(a.caRotation().active().ca().intermediate().keyId()).orElseThrow().entries())
                .isZero();
        assertThat(a.audit().recent(200)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("federation.revocations");
            assertThat(e.target()).isEqualTo("b.test");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
        });
    }

    private static java.security.cert.X509Certificate bootstrap(LanyardServer server,
            AdminServiceGrpc.AdminServiceBlockingStub admin, String spiffeId) throws Exception {
        String token = admin.createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(spiffeId).build()).getToken();
        ManagedChannel channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), null);
        try {
            var response = CertificateServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .issueCertificate(IssueCertificateRequest.newBuilder()
                            .setAttestation(RunningServer.joinTokenAttestation(token))
                            .setCsr(com.google.protobuf.ByteString.copyFrom(Csrs.csr(Csrs.ecP256()))).build());
            return RunningServer.x509(response.getCertificate());
        } finally {
            channel.shutdownNow();
        }
    }

    private static RevocationEvent awaitEvent(java.util.concurrent.BlockingQueue<RevocationEvent> events,
            Predicate<RevocationEvent> wanted) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            RevocationEvent event = events.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (event == null) {
                throw new AssertionError("no such revocation event within 20 s");
            }
            if (wanted.test(event)) {
                return event;
            }
        }
    }

    @Test
    void aFetchedBundleWhoseRecordCannotBeStoredIsNotKept() throws Exception {
        startAOverSpiffeAndBOverWeb();
        var federationA = FederationServiceGrpc.newBlockingStub(admin(a));
        refuseRecordsInA("federation.bundle");
        federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("b.test")
                .setBundleEndpointUrl("https://localhost:" + b.httpPort() + "/bundle")
                .setProfile(BundleEndpointProfile.HTTPS_WEB).build());
        awaitTrue(() -> federationA.listFederations(ListFederationsRequest.getDefaultInstance()).getFederations(0)
                .getLastError().contains("refused by the test"), "A's fetch of B's bundle fails on its record");
        assertThat(trustBundle(a).getFederatedBundlesList()).as("not served without its record").isEmpty();
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("a").resolve("lanyard.db"));
                var s = c.createStatement(); var row = s.executeQuery("select count(*) from federations"
                        + " where bundle_json is not null")) {
            row.next();
            assertThat(row.getLong(1)).as("not stored without its record").isZero();
        }

        refuseRecordsInA(null);
        awaitFederated(a, "b.test", bundle -> true);
        assertThat(a.audit().recent(50)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("federation.bundle");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
        });
    }

    @Test
    void federatedRevocationsWhoseRecordCannotBeStoredAreNotTakenIn() throws Exception {
        startAOverSpiffeAndBOverWeb();
        FederationServiceGrpc.newBlockingStub(admin(a)).addFederation(AddFederationRequest.newBuilder()
                .setTrustDomain("b.test").setBundleEndpointUrl("https://localhost:" + b.httpPort() + "/bundle")
                .setProfile(BundleEndpointProfile.HTTPS_WEB).build());
        awaitFederated(a, "b.test", bundle -> true);
        AdminServiceGrpc.newBlockingStub(admin(b)).createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId("spiffe://b.test/gone").build());
        refuseRecordsInA("federation.revocations");
        RevocationServiceGrpc.newBlockingStub(admin(b)).revoke(RevokeRequest.newBuilder()
                .setTarget(dev.lanyard.v1.RevocationTarget.newBuilder().setSpiffeId("spiffe://b.test/gone")).build());
        Thread.sleep(4_000); // A polls B's revocations every second
        assertThat(revocationsInA("spiffe://b.test/gone")).as("not taken in without its record").isZero();

        refuseRecordsInA(null);
        awaitTrue(() -> revocationsInA("spiffe://b.test/gone") == 1, "A takes B's revocation in with its record");
        assertThat(a.audit().recent(50)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("federation.revocations");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
            assertThat(e.reason()).startsWith("1 revoked, 0 reinstated");
        });
    }

    @Test
    void aPeerThatTricklesItsBodyFailsTheFetchInTimeKeepsTheLastBundleAndHoldsNoOtherTask() throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        Path webRoots = dir.resolve("web-roots.pem");
        Files.writeString(webRoots, Pem.certificates(List.of(web.certificate())), StandardCharsets.US_ASCII);
        // B's endpoint serves one good bundle (refresh hint 1 s), then trickles every answer.
        ScriptedEndpoint peer = new ScriptedEndpoint(web, bundleDocument(WebPki.selfSigned("b.test").certificate(), 1, 1), 1);
        open.add(peer);
        // A's server certificate lives 4 s: the shared scheduler renews it about every 2 s.
        a = start("a", Map.of("trust-domain", "a.test", "federation.web-roots", webRoots.toString(),
                "server.certificate-ttl", "4s"));
        var federationA = FederationServiceGrpc.newBlockingStub(admin(a));
        String endpoint = "https://localhost:" + peer.port() + "/bundle";
        federationA.addFederation(AddFederationRequest.newBuilder().setTrustDomain("b.test")
                .setBundleEndpointUrl(endpoint).setProfile(BundleEndpointProfile.HTTPS_WEB).build());
        TrustBundle good = awaitFederated(a, "b.test", bundle -> true);

        // The next fetch is trickled: it fails within the 5 s timeout, saying so, while A's server
        // certificate is still renewed by the shared scheduler.
        List<long[]> serials = new ArrayList<>(); // {System.nanoTime(), serial's hash}
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        String error = "";
        while (!error.contains("did not answer in full") || peer.windows().isEmpty()
                || peer.windows().get(0).end == 0) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("A's fetch from the trickling endpoint did not fail within 30 s; listed error: "
                        + error + ", trickled answers: " + peer.windows().size());
            }
            serials.add(new long[] {System.nanoTime(), a.serverCertificate().getSerialNumber().hashCode()});
            error = federationA.listFederations(ListFederationsRequest.getDefaultInstance()).getFederations(0)
                    .getLastError();
            Thread.sleep(100);
        }
        assertThat(error).isEqualTo(endpoint + " did not answer in full within 5000 ms");
        ScriptedEndpoint.Window stuck = peer.windows().get(0);
        assertThat(Duration.ofNanos(stuck.end - stuck.start)).as("the stuck fetch lasted about the timeout")
                .isLessThan(Duration.ofSeconds(8));
        // Only samples taken while the fetch was surely still stuck (the peer sees its client go late).
        assertThat(serials.stream().filter(s -> s[0] > stuck.start && s[0] < stuck.end - 1_000_000_000L)
                .map(s -> s[1]).distinct().count()).as("server certificates seen while a federation fetch was stuck")
                .isGreaterThanOrEqualTo(2);
        assertThat(awaitFederated(a, "b.test", bundle -> true)).as("the last good bundle stays").isEqualTo(good);
        assertThat(a.audit().recent(200)).anySatisfy(e -> {
            assertThat(e.action()).isEqualTo("federation.bundle");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.FAILED);
            assertThat(e.reason()).contains("the last good bundle stays").contains("did not answer in full");
        });
    }

    @Test
    void aStaleRevocationDocumentIsRefusedAndWhatTheNewerOneRevokedStays() throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        Path webRoots = dir.resolve("web-roots.pem");
        Files.writeString(webRoots, Pem.certificates(List.of(web.certificate())), StandardCharsets.US_ASCII);
        ScriptedEndpoint peer = new ScriptedEndpoint(web,
                bundleDocument(WebPki.selfSigned("b.test").certificate(), 1, 300), Integer.MAX_VALUE);
        open.add(peer);
        peer.serveRevocations(revocationDocument(5, "spiffe://b.test/x"));
        a = start("a", Map.of("trust-domain", "a.test", "federation.web-roots", webRoots.toString()));
        FederationServiceGrpc.newBlockingStub(admin(a)).addFederation(AddFederationRequest.newBuilder()
                .setTrustDomain("b.test").setBundleEndpointUrl("https://localhost:" + peer.port() + "/bundle")
                .setProfile(BundleEndpointProfile.HTTPS_WEB).build());
        awaitTrue(() -> revocationsInA("spiffe://b.test/x") == 1, "A takes in b.test's revocation of sequence 5");

        // A caching proxy serves an older copy, from before spiffe://b.test/x was revoked: refused.
        peer.serveRevocations(revocationDocument(4));
        int served = peer.revocationAnswers();
        awaitTrue(() -> peer.revocationAnswers() >= served + 2, "A polls the older copy");
        awaitTrue(() -> a.audit().recent(50).stream().anyMatch(e -> e.action().equals("federation.revocations")
                && e.outcome() == AuditEvent.Outcome.FAILED && e.reason().contains("served sequence 4, older than the 5"
                        + " applied")), "A audits the refused copy");
        assertThat(revocationsInA("spiffe://b.test/x")).as("the revocation stays").isEqualTo(1);

        // Restarted, A still knows which sequence it applied (any replica would): the copy stays refused.
        long refusedBefore = refusedCopies(a);
        a.close();
        a = start("a", Map.of("trust-domain", "a.test", "federation.web-roots", webRoots.toString()));
        int servedAgain = peer.revocationAnswers();
        awaitTrue(() -> peer.revocationAnswers() >= servedAgain + 2, "the restarted A polls the older copy");
        awaitTrue(() -> refusedCopies(a) > refusedBefore, "the restarted A audits the refused copy");
        assertThat(revocationsInA("spiffe://b.test/x")).as("the revocation stays after a restart").isEqualTo(1);

        // A newer document that no longer lists it lifts it.
        peer.serveRevocations(revocationDocument(6));
        awaitTrue(() -> revocationsInA("spiffe://b.test/x") == 0, "sequence 6 reinstates spiffe://b.test/x");
    }

    /** The refusals of b.test's stale revocation document in {@code server}'s audit trail. */
    private static long refusedCopies(LanyardServer server) {
        return server.audit().recent(200).stream().filter(e -> e.action().equals("federation.revocations")
                && e.outcome() == AuditEvent.Outcome.FAILED
                && e.reason().contains("served sequence 4, older than the 5 applied")).count();
    }

    private static String revocationDocument(long sequence, String... revokedIds) {
        StringBuilder list = new StringBuilder();
        for (String id : revokedIds) {
            list.append(list.length() == 0 ? "" : ",").append("{\"spiffe_id\":\"").append(id)
                    .append("\",\"reason\":0,\"revoked_at\":1700000000}");
        }
        return "{\"trust_domain\":\"b.test\",\"sequence\":" + sequence + ",\"revocations\":[" + list + "]}";
    }

    /** A SPIFFE bundle document with one X.509 authority. */
    static String bundleDocument(java.security.cert.X509Certificate root, long sequence, long refreshHintSeconds)
            throws Exception {
        Map<String, Object> json = new com.nimbusds.jose.jwk.JWKSet(new com.nimbusds.jose.jwk.ECKey.Builder(
                com.nimbusds.jose.jwk.ECKey.parse(root)).keyUse(new com.nimbusds.jose.jwk.KeyUse("x509-svid"))
                .x509CertChain(List.of(com.nimbusds.jose.util.Base64.encode(root.getEncoded()))).build())
                .toJSONObject(true);
        json.put("spiffe_sequence", sequence);
        json.put("spiffe_refresh_hint", refreshHintSeconds);
        return com.nimbusds.jose.util.JSONObjectUtils.toJSONString(json);
    }

    private long revocationsInA(String target) {
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("a").resolve("lanyard.db"));
                var s = c.prepareStatement("select count(*) from revocations where target = ?")) {
            s.setString(1, target);
            try (var row = s.executeQuery()) {
                row.next();
                return row.getLong(1);
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private void refuseRecordsInA(String action) throws Exception {
        Path store = dir.resolve("a").resolve("lanyard.db");
        if (action == null) {
            RefusedRecords.allow(store);
        } else {
            RefusedRecords.refuse(store, action);
        }
    }

    /** a.test publishes over https_spiffe; b.test over https_web with a web certificate a.test trusts. */
    private void startAOverSpiffeAndBOverWeb() throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        Path webCert = dir.resolve("b-web.pem");
        Path webKey = dir.resolve("b-web.key");
        web.write(webCert, webKey);
        Path webRoots = dir.resolve("web-roots.pem");
        Files.writeString(webRoots, Pem.certificates(List.of(web.certificate())), StandardCharsets.US_ASCII);
        a = start("a", Map.of("trust-domain", "a.test", "http.tls", "spiffe", "federation.web-roots", webRoots.toString()));
        b = start("b", Map.of("trust-domain", "b.test", "http.tls", "web", "http.tls.cert-file", webCert.toString(),
                "http.tls.key-file", webKey.toString()));
    }

    private LanyardServer start(String name, Map<String, String> settings) throws Exception {
        Map<String, String> extra = new java.util.HashMap<>(settings);
        // B's bundle is fetched every second, so the test sees a rotation within seconds.
        extra.put("bundle.refresh-hint", "1s");
        extra.put("jwt.publish-lead", "3s");
        LanyardServer server = LanyardServer.start(ServerConfig.dev(dir.resolve(name), 0, 0, extra), Clock.systemUTC());
        open.add(server);
        return server;
    }

    private ManagedChannel admin(LanyardServer server) throws Exception {
        var credential = new CredentialDirectory(server.config().adminCredentialDir().orElseThrow())
                .read(CryptoProviders.bouncyCastleOnly());
        ManagedChannel channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), credential);
        open.add(0, () -> {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        });
        return channel;
    }

    private TrustBundle trustBundle(LanyardServer server) throws Exception {
        ManagedChannel channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), null);
        try {
            return TrustBundleServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .getTrustBundle(GetTrustBundleRequest.getDefaultInstance());
        } finally {
            channel.shutdownNow();
        }
    }

    private TrustBundle awaitFederated(LanyardServer server, String trustDomain, Predicate<TrustBundle> condition)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            Optional<TrustBundle> found = trustBundle(server).getFederatedBundlesList().stream()
                    .filter(bundle -> bundle.getTrustDomain().equals(trustDomain)).findFirst();
            if (found.isPresent() && condition.test(found.get())) {
                return found.get();
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(server.config().trustDomain() + " did not get the expected bundle of "
                        + trustDomain + " within 20 s; it holds " + found);
            }
            Thread.sleep(100);
        }
    }

    private static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            Thread.sleep(100);
        }
    }

    private static void assertRefused(Runnable call, Status.Code code, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).contains(message);
        });
    }
}
