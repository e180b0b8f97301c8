package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.util.Base64;
import dev.lanyard.client.testing.FakeScheduler;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.FederationServiceGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gRPC server trusting federated peers, built before Lanyard federates with a trust domain, takes a call
 * from that trust domain once the bundle arrives (a renewal refreshes it), from a client whose key manager is
 * the JDK's own: such a key manager presents its certificate only for an issuer the server names, or for any
 * when the server names none. Real Lanyard, real gRPC over TLS with whatever provider grpc-netty picks
 * (OpenSSL when it is available, which builds its CA list once, with the server).
 */
class FederatedGrpcServerTest {

    private static final String INVENTORY = "spiffe://lanyard.local/ns/shop/sa/inventory";
    private static final String FEDERATED_CALLER = "spiffe://b.test/ns/shop/sa/api";

    @TempDir
    Path dataDir;

    private final TestPki b = new TestPki(Clock.systemUTC(), "b.test");
    private final TestPki notFederated = new TestPki(Clock.systemUTC(), "c.test");
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private RunningServer lanyard;
    private WorkloadCredentials inventory;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dataDir);
        lanyard.register(INVENTORY, "localhost");
        inventory = WorkloadCredentials.builder()
                .target("localhost:" + lanyard.server().grpcPort())
                .joinToken(lanyard.joinToken(INVENTORY))
                .trustBundle(lanyard.server().trustBundle())
                .dnsNames(List.of("localhost"))
                .clock(lanyard.clock()).scheduler(new FakeScheduler(lanyard.clock())).random(new SecureRandom())
                .bootstrap();
        toClose.add(inventory);
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        lanyard.close();
    }

    @Test
    void aServerBuiltBeforeATrustDomainFederatesTakesCallsFromItsStockKeyManagerClientsOnceItDoes() throws Exception {
        FederatedPeerTrust trust = inventory.federatedTrust(Set.of("lanyard.local", "b.test"));
        InventoryServer server = serve(TlsServerCredentials.newBuilder().keyManager(inventory.keyManager()).trustManager(trust)
                .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE).build());
        TestPki.Held caller = b.leaf(FEDERATED_CALLER);
        assertThatThrownBy(() -> server.call(stockClient(caller, b)))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isEqualTo(Status.Code.UNAVAILABLE));

        federateWithB();
        inventory.renewNow(); // refreshes the federated bundles, as every renewal does
        assertThatCode(() -> trust.checkClientTrusted(caller.chain(), "ECDHE_ECDSA")).doesNotThrowAnyException();

        server.call(stockClient(caller, b));
        assertThat(server.callers()).containsExactly(FEDERATED_CALLER);
        System.out.println("FEDERATED-GRPC server TLS session: " + server.sessions());

        // Verification is unchanged: a trust domain Lanyard does not federate with is still refused.
        assertThatThrownBy(() -> server.call(stockClient(notFederated.leaf("spiffe://c.test/ns/shop/sa/api"),
                notFederated))).isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isEqualTo(Status.Code.UNAVAILABLE));
        assertThat(server.callers()).containsExactly(FEDERATED_CALLER);
        // And our own workloads still call it with the library's key manager.
        server.call(inventory.channelCredentials());
        assertThat(server.callers()).containsExactly(FEDERATED_CALLER, INVENTORY);
    }

    /** Lanyard federates with b.test, starting from b's bundle handed over out of band (its endpoint is never up). */
    private void federateWithB() {
        String bundle = new JWKSet(new ECKey.Builder(Curve.P_256, (ECPublicKey) b.root().getPublicKey())
                .keyUse(new KeyUse("x509-svid")).x509CertChain(List.of(encoded(b.root()))).build()).toString(true);
        FederationServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .addFederation(AddFederationRequest.newBuilder().setTrustDomain("b.test")
                        .setBundleEndpointUrl("https://localhost:1/bundle").setProfile(BundleEndpointProfile.HTTPS_SPIFFE)
                        .setEndpointSpiffeId("spiffe://b.test/lanyard/server").setInitialBundle(bundle).build());
    }

    /**
     * A workload of {@code pki}'s trust domain: its key manager is the JDK's (KeyManagerFactory over a KeyStore
     * holding its SVID); it trusts Lanyard's roots for the server, as its own Lanyard's federation would.
     */
    private ChannelCredentials stockClient(TestPki.Held held, TestPki pki) throws CredentialException {
        String trustDomain = IssuedSvidCheck.trustDomainOf(IssuedSvidCheck.spiffeId(held.leaf()));
        FederatedPeerTrust server = new FederatedPeerTrust(trustDomain, () -> List.of(pki.root()),
                () -> Map.of("lanyard.local", inventory.trustBundle()), Set.of("lanyard.local"));
        return TlsChannelCredentials.newBuilder().keyManager(held.keyManager()).trustManager(server).build();
    }

    private static Base64 encoded(X509Certificate certificate) {
        try {
            return Base64.encode(certificate.getEncoded());
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    private InventoryServer serve(io.grpc.ServerCredentials credentials) throws java.io.IOException {
        InventoryServer server = InventoryServer.start(credentials);
        toClose.add(server);
        return server;
    }
}
