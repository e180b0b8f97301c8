package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.ListContractsRequest;
import dev.lanyard.v1.PublishContractsRequest;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publishing contracts over gRPC: what a request may name a source, and what it may not. */
class ContractServiceTest {

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
    void aSecretPastedAsTheSourceIsRefusedAndNeverRepeatedInTheAnswerOrTheAuditTrail() throws Exception {
        var contracts = ContractServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        ByteString examples;
        try (var in = ContractServiceTest.class.getResourceAsStream("/examples.pb")) {
            examples = ByteString.readFrom(in);
        }
        List<String> secrets = PastedSecrets.of(lanyard);
        long version = contracts.listContracts(ListContractsRequest.getDefaultInstance()).getVersion();
        for (String secret : secrets) {
            // a JWT and a join token are well-formed source names; what they hold keeps them out all the same
            for (String source : List.of(secret, "team " + secret, "payments@" + secret)) {
                assertThat(PastedSecrets.refusedWithoutRepeating(() -> contracts.publishContracts(
                        PublishContractsRequest.newBuilder().setSource(source).setDescriptorSet(examples).build()),
                        Status.Code.INVALID_ARGUMENT, secret)).startsWith("source (" + source.length() + " characters)");
                PastedSecrets.assertRefusedRecord(lanyard, "contracts.publish",
                        "invalid source (" + source.length() + " characters)");
            }
            PastedSecrets.assertNotInTheAuditTrail(lanyard, secret);
        }
        assertThat(contracts.listContracts(ListContractsRequest.getDefaultInstance()).getVersion()).isEqualTo(version);
    }

    @Test
    void scopeNamesNoClientVerifierAcceptsAreRefusedWhenContractsArePublishedOrAPolicyApplied() throws Exception {
        var contracts = ContractServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        long version = contracts.listContracts(ListContractsRequest.getDefaultInstance()).getVersion();
        for (String bad : List.of("foo_", "a__b")) {
            var refused = org.assertj.core.api.Assertions.catchThrowableOfType(
                    () -> contracts.publishContracts(PublishContractsRequest.newBuilder().setSource("bad")
                            .setDescriptorSet(examplesRequiring(bad)).build()), io.grpc.StatusRuntimeException.class);
            assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(refused.getStatus().getDescription()).contains("a required_scopes entry (" + bad.length()
                    + " characters) is not a scope name every verifier accepts").doesNotContain(bad);
        }
        assertThat(contracts.listContracts(ListContractsRequest.getDefaultInstance()).getVersion()).isEqualTo(version);
        assertThat(lanyard.server().audit().list(dev.lanyard.audit.AuditQuery.all(0, 10_000)).stream()
                .map(dev.lanyard.audit.AuditRecord::event).filter(e -> e.action().equals("contracts.publish")
                        && e.outcome() == dev.lanyard.audit.AuditEvent.Outcome.REFUSED)).hasSize(2)
                .allSatisfy(e -> assertThat(e.reason()).doesNotContain("foo_").doesNotContain("a__b"));

        lanyard.publishExampleContracts();
        var policy = dev.lanyard.v1.PolicyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        var applied = policy.getPolicy(dev.lanyard.v1.GetPolicyRequest.getDefaultInstance());
        var refused = org.assertj.core.api.Assertions.catchThrowableOfType(() -> policy.applyPolicy(
                dev.lanyard.v1.ApplyPolicyRequest.newBuilder().setPolicy(dev.lanyard.v1.Policy.newBuilder()
                        .setVersion(applied.getVersion() + 1).addGrants(dev.lanyard.v1.Grant.newBuilder()
                                .addSpiffeIds("spiffe://example.org/billing").setAudience("payments")
                                .addScopes("payments.charge").addScopes("a__b"))).build()),
                io.grpc.StatusRuntimeException.class);
        assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(refused.getStatus().getDescription()).startsWith("grants[0].scopes[1] (4 characters) is not a"
                + " scope name every verifier accepts").doesNotContain("a__b");
        assertThat(policy.getPolicy(dev.lanyard.v1.GetPolicyRequest.getDefaultInstance())).isEqualTo(applied);
        PastedSecrets.assertRefusedRecord(lanyard, "policy.apply", "version " + (applied.getVersion() + 1));
    }

    /** The example descriptor set with every method requiring {@code scope}, under its own package and audiences. */
    private static ByteString examplesRequiring(String scope) throws Exception {
        var registry = com.google.protobuf.ExtensionRegistry.newInstance();
        dev.lanyard.v1.OptionsProto.registerAllExtensions(registry);
        try (var in = ContractServiceTest.class.getResourceAsStream("/examples.pb")) {
            var set = com.google.protobuf.DescriptorProtos.FileDescriptorSet.parseFrom(in, registry).toBuilder();
            for (var file : set.getFileBuilderList()) {
                for (var service : file.getServiceBuilderList()) {
                    for (var method : service.getMethodBuilderList()) {
                        method.getOptionsBuilder().setExtension(dev.lanyard.v1.OptionsProto.requiredScopes, List.of(scope));
                    }
                }
            }
            return set.build().toByteString();
        }
    }
}
