package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Timestamp;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AuditRecord;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.ListAuditRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ListAudit over gRPC: filters, paging, bad input, and a trail that never holds a secret. */
class AuditServiceTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";

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

    @Test
    void theTrailHoldsNoJoinTokenJwtOrKeyMaterial() throws Exception {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
                """);
        lanyard.register(WEB);
        String joinToken = lanyard.joinToken(WEB);
        Credential web = lanyard.bootstrap(WEB);
        String jwt = lanyard.tokens(web).issueToken(IssueTokenRequest.newBuilder().setAudience("payments")
                .addScopes("payments.read").build()).getToken();
        var redeem = dev.lanyard.v1.IssueCertificateRequest.newBuilder()
                .setAttestation(RunningServer.joinTokenAttestation(joinToken))
                .setCsr(com.google.protobuf.ByteString.copyFrom(dev.lanyard.testing.Csrs.csr(
                        dev.lanyard.testing.Csrs.ecP256()))).build();
        lanyard.certificates(null).issueCertificate(redeem);
        assertThatThrownBy(() -> lanyard.certificates(null).issueCertificate(redeem))
                .isInstanceOf(StatusRuntimeException.class);

        List<AuditRecord> all = audit().listAudit(ListAuditRequest.newBuilder().setPageSize(1000).build())
                .getRecordsList();
        String secretPart = joinToken.substring(joinToken.indexOf('.') + 1);
        assertThat(all).hasSizeGreaterThan(8).allSatisfy(r -> {
            String text = String.join("|", r.getActor(), r.getAction(), r.getTarget(), r.getReason());
            assertThat(text).doesNotContain(secretPart, jwt, jwt.substring(jwt.lastIndexOf('.') + 1), "PRIVATE KEY",
                    "BEGIN", "eyJ");
        });
        assertThat(all).extracting(AuditRecord::getAction)
                .contains("certificate.bootstrap", "token.issue", "join-token.create", "policy.apply");
    }

    @Test
    void aPolicyWhoseAuditRecordCannotBeStoredIsNeitherStoredNorInForce() throws Exception {
        var policies = dev.lanyard.v1.PolicyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        long before = policies.getPolicy(dev.lanyard.v1.GetPolicyRequest.getDefaultInstance()).getVersion();
        lanyard.refuseAuditRecords("policy.apply");
        String policy = """
                version: %d
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
                """.formatted(before + 1);

        assertThatThrownBy(() -> lanyard.applyPolicy(policy)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INTERNAL));
        assertThat(policies.getPolicy(dev.lanyard.v1.GetPolicyRequest.getDefaultInstance()).getVersion())
                .isEqualTo(before);

        // Not stored either: the same version applies once records can be written again.
        lanyard.refuseAuditRecords(null);
        lanyard.applyPolicy(policy);
        assertThat(policies.getPolicy(dev.lanyard.v1.GetPolicyRequest.getDefaultInstance()).getVersion())
                .isEqualTo(before + 1);
        assertThat(lanyard.server().audit().recent(20)).filteredOn(e -> e.action().equals("policy.apply"))
                .singleElement().satisfies(e -> assertThat(e.outcome()).isEqualTo(dev.lanyard.audit.AuditEvent.Outcome.SUCCESS));
    }

    @Test
    void contractsWhoseAuditRecordCannotBeStoredAreNeitherStoredNorInForce() throws Exception {
        var contracts = dev.lanyard.v1.ContractServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        lanyard.refuseAuditRecords("contracts.publish");
        assertThatThrownBy(lanyard::publishExampleContracts).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INTERNAL));
        assertThat(contracts.listContracts(dev.lanyard.v1.ListContractsRequest.getDefaultInstance()).getContractsList())
                .isEmpty();

        // Not stored either: the same bytes are a new version once records can be written again.
        lanyard.refuseAuditRecords(null);
        byte[] examples;
        try (var in = AuditServiceTest.class.getResourceAsStream("/examples.pb")) {
            examples = in.readAllBytes();
        }
        var publish = dev.lanyard.v1.PublishContractsRequest.newBuilder().setSource("examples")
                .setDescriptorSet(com.google.protobuf.ByteString.copyFrom(examples)).build();
        assertThat(contracts.publishContracts(publish).getVersion()).isPositive();
        assertThat(contracts.listContracts(dev.lanyard.v1.ListContractsRequest.getDefaultInstance()).getContractsList())
                .isNotEmpty();
        // The same bytes again store nothing new, and are audited all the same.
        contracts.publishContracts(publish);
        assertThat(lanyard.server().audit().recent(20)).filteredOn(e -> e.action().equals("contracts.publish"))
                .hasSize(2).allSatisfy(e -> assertThat(e.outcome()).isEqualTo(dev.lanyard.audit.AuditEvent.Outcome.SUCCESS));
    }

    @Test
    void aFederationWhoseAuditRecordCannotBeStoredIsNeitherAddedNorRemoved() throws Exception {
        var federations = dev.lanyard.v1.FederationServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()));
        var add = dev.lanyard.v1.AddFederationRequest.newBuilder().setTrustDomain("other.test")
                .setBundleEndpointUrl("https://other.test/bundle").setProfile(dev.lanyard.v1.BundleEndpointProfile.HTTPS_WEB)
                .build();
        var list = dev.lanyard.v1.ListFederationsRequest.getDefaultInstance();
        lanyard.refuseAuditRecords("federation.add");
        assertThatThrownBy(() -> federations.addFederation(add)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INTERNAL));
        assertThat(federations.listFederations(list).getFederationsList()).isEmpty();

        lanyard.refuseAuditRecords("federation.remove");
        federations.addFederation(add);
        var remove = dev.lanyard.v1.RemoveFederationRequest.newBuilder().setTrustDomain("other.test").build();
        assertThatThrownBy(() -> federations.removeFederation(remove)).isInstanceOfSatisfying(
                StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INTERNAL));
        assertThat(federations.listFederations(list).getFederationsList()).hasSize(1);
        lanyard.refuseAuditRecords(null);
        federations.removeFederation(remove);
        assertThat(federations.listFederations(list).getFederationsList()).isEmpty();
    }

    @Test
    void filtersAndPagesInBothDirections() {
        for (int i = 0; i < 5; i++) {
            lanyard.register(WEB + i);
        }
        var newest = audit().listAudit(ListAuditRequest.newBuilder().setNewestFirst(true).setPageSize(2)
                .setActionPrefix("registration.").build());
        assertThat(newest.getRecordsList()).extracting(AuditRecord::getTarget).containsExactly(WEB + 4, WEB + 3);
        var older = audit().listAudit(ListAuditRequest.newBuilder().setNewestFirst(true).setPageSize(2)
                .setActionPrefix("registration.").setAfterId(newest.getNextAfterId()).build());
        assertThat(older.getRecordsList()).extracting(AuditRecord::getTarget).containsExactly(WEB + 2, WEB + 1);
        var oldest = audit().listAudit(ListAuditRequest.newBuilder().setPageSize(1).setTarget(WEB + 0).build());
        assertThat(oldest.getRecordsList()).singleElement().satisfies(r -> {
            assertThat(r.getOutcome()).isEqualTo("SUCCESS");
            assertThat(r.getHash()).hasSize(64);
            assertThat(r.getPreviousHash()).hasSize(64);
        });
        assertThat(audit().listAudit(ListAuditRequest.newBuilder().setOutcome("REFUSED").build()).getRecordsList())
                .isEmpty();
    }

    @Test
    void badRequestsAreRefused() {
        invalid(ListAuditRequest.newBuilder().setPageSize(1001).build(), "page_size");
        invalid(ListAuditRequest.newBuilder().setPageSize(-1).build(), "page_size");
        invalid(ListAuditRequest.newBuilder().setAfterId(-5).build(), "after_id");
        invalid(ListAuditRequest.newBuilder().setOutcome("MAYBE").build(), "outcome must be");
        invalid(ListAuditRequest.newBuilder().setSince(Timestamp.newBuilder().setSeconds(20))
                .setUntil(Timestamp.newBuilder().setSeconds(10)).build(), "since must be before until");
    }

    private void invalid(ListAuditRequest request, String message) {
        assertThatThrownBy(() -> audit().listAudit(request)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains(message);
        });
    }

    private AuditServiceGrpc.AuditServiceBlockingStub audit() {
        return AuditServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }
}
