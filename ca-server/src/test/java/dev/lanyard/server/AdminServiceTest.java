package dev.lanyard.server;

import static dev.lanyard.server.CertificateServiceTest.assertRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Message;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.Credential;
import dev.lanyard.store.Database;
import dev.lanyard.store.EmbeddedStore;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.ListCertificatesRequest;
import dev.lanyard.v1.ListRegistrationsRequest;
import dev.lanyard.v1.ListRegistrationsResponse;
import dev.lanyard.v1.Registration;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The admin service: only admins get in, inputs are validated, everything is audited. */
class AdminServiceTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    /** Every admin RPC, called with a harmless request. */
    static Stream<Arguments> adminMethods() {
        Map<String, Function<AdminServiceGrpc.AdminServiceBlockingStub, Message>> calls = Map.of(
                "CreateRegistration", s -> s.createRegistration(
                        CreateRegistrationRequest.newBuilder().setSpiffeId("spiffe://lanyard.local/x").build()),
                "ListRegistrations", s -> s.listRegistrations(ListRegistrationsRequest.getDefaultInstance()),
                "DeleteRegistration", s -> s.deleteRegistration(
                        DeleteRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build()),
                "CreateJoinToken", s -> s.createJoinToken(
                        CreateJoinTokenRequest.newBuilder().setSpiffeId(WORKLOAD).build()),
                "ListCertificates", s -> s.listCertificates(ListCertificatesRequest.getDefaultInstance()));
        assertThat(calls.keySet()).containsExactlyInAnyOrderElementsOf(
                AdminServiceGrpc.getServiceDescriptor().getMethods().stream()
                        .map(m -> m.getBareMethodName()).toList());
        return calls.entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("adminMethods")
    void nonAdminsAreRefused(String method, Function<AdminServiceGrpc.AdminServiceBlockingStub, Message> call) {
        lanyard.register(WORKLOAD);
        Credential workload = lanyard.bootstrap(WORKLOAD);
        assertRefused(() -> call.apply(AdminServiceGrpc.newBlockingStub(lanyard.channel(workload))),
                Status.Code.PERMISSION_DENIED, WORKLOAD + " is not an admin");
        assertRefused(() -> call.apply(AdminServiceGrpc.newBlockingStub(lanyard.channel(null))),
                Status.Code.UNAUTHENTICATED, "needs a client certificate");
    }

    @Test
    void refusalsAndChangesAreAudited() {
        lanyard.register(WORKLOAD);
        Credential workload = lanyard.bootstrap(WORKLOAD);
        assertRefused(() -> AdminServiceGrpc.newBlockingStub(lanyard.channel(workload))
                        .listRegistrations(ListRegistrationsRequest.getDefaultInstance()),
                Status.Code.PERMISSION_DENIED, "not an admin");
        try (Database db = EmbeddedStore.openIn(lanyard.dataDir())) {
            List<AuditEvent> events = new JdbcAuditLog(db.dataSource()).recent(50);
            assertThat(events).anySatisfy(e -> {
                assertThat(e.actor()).isEqualTo(WORKLOAD);
                assertThat(e.action()).isEqualTo("rpc.authorize");
                assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
            });
            assertThat(events).anySatisfy(e -> {
                assertThat(e.actor()).isEqualTo("spiffe://lanyard.local/lanyard/admin");
                assertThat(e.action()).isEqualTo("registration.create");
                assertThat(e.target()).isEqualTo(WORKLOAD);
                assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.SUCCESS);
            });
            assertThat(events).anySatisfy(e -> assertThat(e.action()).isEqualTo("join-token.create"));
            // The join token itself is never in the trail.
            assertThat(events).allSatisfy(e -> assertThat(e.toString()).doesNotContain("lyjt_"));
        }
    }

    @Test
    void registrationsAreValidated() {
        var admin = lanyard.admin();
        assertRefused(() -> admin.createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId("spiffe://other.domain/x").build()), Status.Code.INVALID_ARGUMENT, "trust domain");
        assertRefused(() -> admin.createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId("https://lanyard.local/x").build()), Status.Code.INVALID_ARGUMENT, "spiffe://");
        assertRefused(() -> admin.createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId(WORKLOAD).addDnsNames("*.wild.example").build()), Status.Code.INVALID_ARGUMENT, "wild");
        assertRefused(() -> admin.createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId(WORKLOAD).setMaxTtl(com.google.protobuf.Duration.newBuilder().setSeconds(7 * 86400))
                .build()), Status.Code.INVALID_ARGUMENT, "max_ttl");
        lanyard.register(WORKLOAD, "Web.Shop.Internal");
        assertRefused(() -> lanyard.register(WORKLOAD), Status.Code.ALREADY_EXISTS, "registered already");
        assertThat(admin.listRegistrations(ListRegistrationsRequest.getDefaultInstance()).getRegistrationsList())
                .singleElement().satisfies(r -> {
                    assertThat(r.getSpiffeId()).isEqualTo(WORKLOAD);
                    assertThat(r.getDnsNamesList()).containsExactly("web.shop.internal");
                    assertThat(r.getMaxTtl().getSeconds()).isEqualTo(3600);
                });
    }

    @Test
    void aSecretPastedAsTheSpiffeIdIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
                """);
        lanyard.register(WORKLOAD);
        String jwt = lanyard.tokens(lanyard.bootstrap(WORKLOAD)).issueToken(IssueTokenRequest.newBuilder()
                .setAudience("payments").addScopes("payments.read").build()).getToken();
        String joinToken = lanyard.joinToken(WORKLOAD);
        var admin = lanyard.admin();
        for (String secret : List.of(jwt, joinToken)) {
            refusedWithoutRepeating(() -> admin.createRegistration(
                    CreateRegistrationRequest.newBuilder().setSpiffeId(secret).build()), secret);
            refusedWithoutRepeating(() -> admin.deleteRegistration(
                    DeleteRegistrationRequest.newBuilder().setSpiffeId(secret).build()), secret);
            refusedWithoutRepeating(() -> admin.createJoinToken(
                    CreateJoinTokenRequest.newBuilder().setSpiffeId(secret).build()), secret);
            refusedWithoutRepeating(() -> admin.listCertificates(
                    ListCertificatesRequest.newBuilder().setSpiffeId(secret).build()), secret);
            String described = "invalid spiffe_id (" + secret.length() + " characters)";
            List<AuditEvent> trail = lanyard.server().audit().recent(200);
            for (String action : List.of("registration.create", "registration.delete", "join-token.create",
                    "certificate.list")) {
                assertThat(trail).as(action).anyMatch(e -> e.action().equals(action)
                        && e.outcome() == AuditEvent.Outcome.REFUSED && e.target().equals(described));
            }
            assertThat(trail).allSatisfy(e -> assertThat(e.toString())
                    .doesNotContain(secret).doesNotContain(secret.substring(secret.length() - 16)));
        }
        assertThat(admin.listRegistrations(ListRegistrationsRequest.getDefaultInstance()).getRegistrationsList())
                .extracting(Registration::getSpiffeId).containsExactly(WORKLOAD);
    }

    @Test
    void aSecretInsideASpiffeIdIsRefusedAndNamedOnlyByItsLength() {
        var admin = lanyard.admin();
        for (String secret : PastedSecrets.of(lanyard)) {
            // a JWT's base64url and dots, and a join token, fit a SPIFFE ID's path: it parses
            for (String id : List.of("spiffe://lanyard.local/" + secret, "spiffe://lanyard.local/ns/shop/sa/" + secret,
                    "spiffe://other.example/" + secret)) {
                List<Runnable> calls = List.of(
                        () -> admin.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(id).build()),
                        () -> admin.createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(id).build()),
                        () -> admin.deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(id).build()),
                        () -> admin.listCertificates(ListCertificatesRequest.newBuilder().setSpiffeId(id).build()),
                        () -> lanyard.revocations().revoke(dev.lanyard.v1.RevokeRequest.newBuilder()
                                .setTarget(dev.lanyard.v1.RevocationTarget.newBuilder().setSpiffeId(id))
                                .setReason(dev.lanyard.v1.RevocationReason.REVOCATION_REASON_KEY_COMPROMISE)
                                .setForce(true).build()),
                        () -> lanyard.revocations().reinstate(dev.lanyard.v1.ReinstateRequest.newBuilder()
                                .setSpiffeId(id).build()));
                for (Runnable call : calls) {
                    assertThat(PastedSecrets.refusedWithoutRepeating(call, Status.Code.INVALID_ARGUMENT, secret))
                            .startsWith("spiffe_id (" + id.length() + " characters) holds a JWT or a join token");
                }
                String described = "invalid spiffe_id (" + id.length() + " characters)";
                for (String action : List.of("registration.create", "join-token.create", "registration.delete",
                        "certificate.list", "revocation.revoke", "revocation.reinstate")) {
                    PastedSecrets.assertRefusedRecord(lanyard, action, described);
                }
            }
            // nor as the agent a registration is parented to
            String agent = "spiffe://lanyard.local/lanyard/agent/join_token/" + secret;
            assertThat(PastedSecrets.refusedWithoutRepeating(() -> admin.createRegistration(CreateRegistrationRequest
                    .newBuilder().setSpiffeId("spiffe://lanyard.local/ns/shop/sa/db").setParentId(agent)
                    .addSelectors("unix:uid:1000").build()), Status.Code.INVALID_ARGUMENT, secret))
                    .startsWith("parent_id (" + agent.length() + " characters) holds a JWT or a join token");
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
        assertThat(admin.listRegistrations(ListRegistrationsRequest.getDefaultInstance()).getRegistrationsList())
                .extracting(Registration::getSpiffeId).containsExactly(PastedSecrets.HOLDER);
        assertThat(lanyard.revocations().listRevocations(dev.lanyard.v1.ListRevocationsRequest.getDefaultInstance())
                .getRevocationsList()).isEmpty();
    }

    private static void refusedWithoutRepeating(Runnable call, String secret) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription())
                    .startsWith("spiffe_id (" + secret.length() + " characters) is not a SPIFFE ID")
                    .doesNotContain(secret.substring(secret.length() - 16));
        });
    }

    @Test
    void anAdminIdOutsideTheReservedPrefixIsNeverRegisteredNorGivenAJoinToken(@TempDir Path other) throws Exception {
        String alice = "spiffe://lanyard.local/ops/alice";
        try (RunningServer withAlice = RunningServer.start(other, Map.of("admin.spiffe-ids",
                "spiffe://lanyard.local/lanyard/admin," + alice))) {
            var admin = withAlice.admin();
            assertRefused(() -> admin.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(alice)
                    .build()), Status.Code.PERMISSION_DENIED, alice + " is an admin of this server");
            // nor as an entry a node agent would serve
            assertRefused(() -> admin.createRegistration(CreateRegistrationRequest.newBuilder().setSpiffeId(alice)
                    .setParentId("spiffe://lanyard.local/lanyard/agent/join_token/node-1").addSelectors("unix:uid:1000")
                    .build()), Status.Code.PERMISSION_DENIED, alice + " is an admin of this server");
            assertRefused(() -> admin.createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(alice).build()),
                    Status.Code.PERMISSION_DENIED, alice + " is an admin of this server");
            assertThat(admin.listRegistrations(ListRegistrationsRequest.getDefaultInstance()).getRegistrationsList())
                    .isEmpty();
            List<AuditEvent> trail = withAlice.server().audit().recent(50);
            for (String action : List.of("registration.create", "join-token.create")) {
                assertThat(trail).as(action).anyMatch(e -> e.action().equals(action) && e.target().equals(alice)
                        && e.outcome() == AuditEvent.Outcome.REFUSED && e.reason().contains("is an admin of this server"));
            }
            // other IDs outside /lanyard/ still register
            withAlice.register(WORKLOAD);
        }
    }

    @Test
    void aWorkloadsCertificateIsNoAdminsOnceItsIdIsNamedAnAdminAndItsRegistrationIsGone() throws Exception {
        String alice = "spiffe://lanyard.local/ops/alice";
        lanyard.register(alice);
        Credential bootstrapped = lanyard.bootstrap(alice);
        Credential renewed = lanyard.renew(bootstrapped);
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(alice).build());
        lanyard.close();
        // The same store, now with alice named an admin: her workload certificates are still valid.
        lanyard = RunningServer.start(dir, Map.of("admin.spiffe-ids", "spiffe://lanyard.local/lanyard/admin," + alice));
        for (Credential workload : List.of(bootstrapped, renewed)) {
            assertRefused(() -> AdminServiceGrpc.newBlockingStub(lanyard.channel(workload))
                            .listRegistrations(ListRegistrationsRequest.getDefaultInstance()),
                    Status.Code.PERMISSION_DENIED, "was issued to a workload, not as an admin credential");
        }
        assertThat(lanyard.server().audit().recent(50)).anySatisfy(e -> {
            assertThat(e.actor()).isEqualTo(alice);
            assertThat(e.action()).isEqualTo("rpc.authorize");
            assertThat(e.outcome()).isEqualTo(AuditEvent.Outcome.REFUSED);
            assertThat(e.reason()).contains("issued to a workload");
        });
        // The admin credential the server issued itself still is one.
        assertThat(lanyard.admin().listRegistrations(ListRegistrationsRequest.getDefaultInstance())
                .getRegistrationsList()).isEmpty();
    }

    @Test
    void aSecretPastedIntoAnyOtherFieldIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() {
        String id = "spiffe://lanyard.local/ns/shop/sa/new";
        String agent = "spiffe://lanyard.local/lanyard/agent/join_token/node-1";
        var admin = lanyard.admin();
        for (String secret : PastedSecrets.of(lanyard)) {
            List<CreateRegistrationRequest> requests = List.of(
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).addDnsNames("web.shop.internal")
                            .addDnsNames(secret).build(),
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).addFederatesWith(secret).build(),
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).setParentId(secret)
                            .addSelectors("unix:uid:1000").build(),
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).setParentId("spiffe://" + secret)
                            .addSelectors("unix:uid:1000").build(),
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).setParentId(agent)
                            .addSelectors("unix:uid:1000").addSelectors(secret).build(),
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).setParentId(agent)
                            .addSelectors("unix:" + secret + ":1000").build(),
                    CreateRegistrationRequest.newBuilder().setSpiffeId(id).setParentId(agent)
                            .addSelectors("unix:path:" + secret).build());
            for (CreateRegistrationRequest request : requests) {
                assertThat(PastedSecrets.refusedWithoutRepeating(() -> admin.createRegistration(request),
                        Status.Code.INVALID_ARGUMENT, secret)).contains(" characters");
            }
            PastedSecrets.refusedWithoutRepeating(() -> admin.listRegistrations(
                    ListRegistrationsRequest.newBuilder().setPageToken(secret).build()), Status.Code.INVALID_ARGUMENT,
                    secret);
            PastedSecrets.refusedWithoutRepeating(() -> admin.listCertificates(
                    ListCertificatesRequest.newBuilder().setPageToken(secret).build()), Status.Code.INVALID_ARGUMENT,
                    secret);
            PastedSecrets.assertRefusedRecord(lanyard, "registration.create", id);
            PastedSecrets.assertRefusedRecord(lanyard, "registration.list", "");
            // the chain refuses a page token longer than the 64 characters a certificate cursor can be
            if (secret.length() > 64) {
                PastedSecrets.assertRefusedRecord(lanyard, "rpc.bounds", "lanyard.v1.AdminService/ListCertificates");
            } else {
                PastedSecrets.assertRefusedRecord(lanyard, "certificate.list", "");
            }
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
        // a page token that decodes, but to no cursor this server made, is the caller's mistake too
        assertRefused(() -> admin.listCertificates(ListCertificatesRequest.newBuilder()
                .setPageToken("eyJhbGciOiJFUzI1NiJ9").build()), Status.Code.INVALID_ARGUMENT, "page_token");
        assertThat(admin.listRegistrations(ListRegistrationsRequest.getDefaultInstance()).getRegistrationsList())
                .extracting(Registration::getSpiffeId).containsExactly(PastedSecrets.HOLDER);
    }

    @Test
    void registrationsArePaged() {
        for (int i = 0; i < 7; i++) {
            lanyard.register("spiffe://lanyard.local/svc/" + i);
        }
        List<String> seen = new ArrayList<>();
        String token = "";
        do {
            ListRegistrationsResponse page = lanyard.admin().listRegistrations(
                    ListRegistrationsRequest.newBuilder().setPageSize(3).setPageToken(token).build());
            assertThat(page.getRegistrationsCount()).isLessThanOrEqualTo(3);
            page.getRegistrationsList().stream().map(Registration::getSpiffeId).forEach(seen::add);
            token = page.getNextPageToken();
        } while (!token.isEmpty());
        assertThat(seen).hasSize(7).doesNotHaveDuplicates().isSorted();
    }

    @Test
    void deletingARegistrationRevokesItsUnusedJoinTokens() {
        lanyard.register(WORKLOAD);
        String token = lanyard.joinToken(WORKLOAD);
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build());
        assertRefused(() -> lanyard.admin().deleteRegistration(
                DeleteRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build()), Status.Code.NOT_FOUND, "");
        lanyard.register(WORKLOAD);
        assertRefused(() -> lanyard.certificates(null).issueCertificate(dev.lanyard.v1.IssueCertificateRequest
                        .newBuilder().setAttestation(RunningServer.joinTokenAttestation(token))
                        .setCsr(com.google.protobuf.ByteString.copyFrom(
                                dev.lanyard.testing.Csrs.csr(dev.lanyard.testing.Csrs.ecP256()))).build()),
                Status.Code.UNAUTHENTICATED, "not known");
    }

    @Test
    void joinTokensNeedARegistration() {
        assertRefused(() -> lanyard.joinToken(WORKLOAD), Status.Code.FAILED_PRECONDITION, "not registered");
        lanyard.register(WORKLOAD);
        assertRefused(() -> lanyard.admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(WORKLOAD)
                        .setTtl(com.google.protobuf.Duration.newBuilder().setSeconds(2 * 86400)).build()),
                Status.Code.INVALID_ARGUMENT, "24h");
        assertThat(lanyard.joinToken(WORKLOAD)).startsWith("lyjt_");
    }
}
