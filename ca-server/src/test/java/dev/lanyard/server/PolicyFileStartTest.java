package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.policy.InvalidPolicyException;
import dev.lanyard.testing.RunningServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A policy file is held to the rules of {@code lanyard policy apply} when the server starts. */
class PolicyFileStartTest {

    @TempDir
    Path dir;

    @Test
    void aScopeNameNoClientVerifierAcceptsStopsTheServerNamingTheFileAndThePositionOnly() throws Exception {
        Path file = Files.writeString(dir.resolve("policy.txtpb"), """
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments"
                         scopes: "payments.charge" scopes: "payments__charge" }
                """);
        int grpcPort;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            grpcPort = free.getLocalPort();
        }
        assertThatThrownBy(() -> RunningServer.start(dir.resolve("data"), Map.of("policy.file", file.toString(),
                "grpc.port", Integer.toString(grpcPort))))
                .isInstanceOf(InvalidPolicyException.class)
                .hasMessageStartingWith("policy file " + file + " not applied: grants[0].scopes[1] (16 characters)"
                        + " is not a scope name every verifier accepts")
                .hasMessageNotContaining("payments__charge");
        // the refused server does not go on serving: its port is free again
        try (java.net.ServerSocket again = new java.net.ServerSocket(grpcPort, 50, java.net.InetAddress.getLoopbackAddress())) {
            assertThat(again.getLocalPort()).isEqualTo(grpcPort);
        }

        // nothing was stored by the refused start: with the file fixed, version 1 goes in force
        Files.writeString(file, Files.readString(file).replace("payments__charge", "payments.read"));
        try (RunningServer lanyard = RunningServer.start(dir.resolve("data"), Map.of("policy.file", file.toString()))) {
            assertThat(dev.lanyard.v1.PolicyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                    .getPolicy(dev.lanyard.v1.GetPolicyRequest.getDefaultInstance()).getVersion()).isEqualTo(1);
        }
    }
}
