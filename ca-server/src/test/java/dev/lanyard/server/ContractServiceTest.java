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
}
