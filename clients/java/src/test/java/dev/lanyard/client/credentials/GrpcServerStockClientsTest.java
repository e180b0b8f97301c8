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
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.FederationServiceGrpc;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A workload's gRPC server takes calls from clients whose key manager is the JDK's own, under roots it learned
 * after it was built: a trust domain Lanyard federates with later, and a root Lanyard rotates to. Such a key
 * manager presents its certificate only for an issuer the server names, or for any when the server names none;
 * Netty's OpenSSL server (gRPC's default) reads the names once, when it is built, and each Lanyard root has a name
 * of its own. So the server names none, and its trust manager decides. Real Lanyard, a real federation and root
 * rotation, real gRPC over TLS.
 */
class GrpcServerStockClientsTest {

    private static final String INVENTORY = "spiffe://lanyard.local/ns/shop/sa/inventory";
    private static final String CALLER = "spiffe://lanyard.local/ns/shop/sa/api";
    private static final String FEDERATED_CALLER = "spiffe://b.test/ns/shop/sa/api";
    /** Short, so a new intermediate signs two seconds after it is published: no SVID is dated after real time. */
    private static final Duration PUBLISH_LEAD = Duration.ofSeconds(2);

    @TempDir
    Path dataDir;

    private final TestPki b = new TestPki(Clock.systemUTC(), "b.test");
    private final TestPki notFederated = new TestPki(Clock.systemUTC(), "c.test");
    private final List<AutoCloseable> toClose = new ArrayList<>();
    private RunningServer lanyard;
    private WorkloadCredentials inventory;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dataDir, Map.of("bundle.refresh-hint", "1s", "jwt.publish-lead", "2s"));
        lanyard.register(INVENTORY, "localhost");
        lanyard.register(CALLER);
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

    @Test
    void aServerBuiltBeforeARootRotationTakesCallsFromStockKeyManagerClientsUnderTheNewRoot() throws Exception {
        X509Certificate oldRoot = lanyard.server().trustBundle().get(0);
        InventoryServer server = serve(inventory.serverCredentials());
        Credential underOldRoot = lanyard.bootstrap(CALLER);
        server.call(stockClient(underOldRoot));

        X509Certificate newRoot = rotateRoot();
        assertThat(newRoot.getSubjectX500Principal()).isNotEqualTo(oldRoot.getSubjectX500Principal());
        inventory.renewNow(); // the server's trust follows the bundle, as every renewal does
        assertThat(inventory.trustBundle()).containsExactlyInAnyOrder(oldRoot, newRoot);
        Credential underNewRoot = lanyard.bootstrap(CALLER);
        assertThat(lanyard.chainsTo(underNewRoot, List.of(newRoot))).isTrue();
        assertThat(lanyard.chainsTo(underNewRoot, List.of(oldRoot))).isFalse();

        // The server names no issuers (it would name only the old root's, read when it was built), so the client presents its SVID.
        assertThat(inventory.trustManager().getAcceptedIssuers()).isEmpty();
        server.call(stockClient(underNewRoot));
        System.out.println("ROOT-ROTATION-GRPC server TLS session: " + server.sessions());
        assertThat(server.callers()).containsExactly(CALLER, CALLER);
        // A client still under the old root is taken too: both roots are trusted until the old one leaves.
        server.call(stockClient(underOldRoot));
        assertThat(server.callers()).hasSize(3);

        // Verification is unchanged: a certificate for our trust domain from a CA that is not Lanyard's is refused.
        TestPki.Held forged = new TestPki(Clock.systemUTC(), "lanyard.local").leaf(CALLER);
        assertThatThrownBy(() -> server.call(stockClient(forged.privateKey(), forged.chain())))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                        .isEqualTo(Status.Code.UNAVAILABLE));
        assertThat(server.callers()).hasSize(3);
        // And our own workloads still call it with the library's key manager.
        server.call(inventory.channelCredentials());
        assertThat(server.callers()).containsExactly(CALLER, CALLER, CALLER, INVENTORY);
    }

    /**
     * Lanyard adds a generated root, publishes an intermediate under it and makes that the signer: the steps of
     * {@code lanyard ca add-root --generate} then {@code lanyard keys rotate --x509} twice. Returns the new root.
     */
    private X509Certificate rotateRoot() {
        var keys = KeyServiceGrpc.newBlockingStub(lanyard.channel(lanyard.adminCredential()))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
        keys.addRoot(AddRootRequest.newBuilder().setGenerate(true).build());
        List<X509Certificate> bundle = lanyard.server().trustBundle();
        assertThat(bundle).hasSize(2);
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        lanyard.clock().advance(PUBLISH_LEAD);
        keys.rotateKeys(RotateKeysRequest.newBuilder().setKind(KeyKind.KEY_KIND_X509).build());
        return bundle.get(1);
    }

    private ChannelCredentials stockClient(Credential credential) throws Exception {
        return stockClient(credential.privateKey(), credential.certificateChain());
    }

    /**
     * A client whose key and trust managers are the JDK's own (KeyManagerFactory over a KeyStore holding its SVID,
     * TrustManagerFactory over Lanyard's bundle): its key manager presents its certificate only for an issuer the
     * server names, or for any when the server names none.
     */
    private ChannelCredentials stockClient(PrivateKey key, X509Certificate[] chain) throws Exception {
        KeyStore keyStore = KeyStore.getInstance("PKCS12");
        keyStore.load(null, null);
        keyStore.setKeyEntry("svid", key, new char[0], chain);
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance("PKIX");
        keyManagers.init(keyStore, new char[0]);
        KeyStore roots = KeyStore.getInstance("PKCS12");
        roots.load(null, null);
        List<X509Certificate> bundle = lanyard.server().trustBundle();
        for (int i = 0; i < bundle.size(); i++) {
            roots.setCertificateEntry("root-" + i, bundle.get(i));
        }
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance("PKIX");
        trustManagers.init(roots);
        return TlsChannelCredentials.newBuilder().keyManager(keyManagers.getKeyManagers())
                .trustManager(trustManagers.getTrustManagers()).build();
    }

    private InventoryServer serve(io.grpc.ServerCredentials credentials) throws java.io.IOException {
        InventoryServer server = InventoryServer.start(credentials);
        toClose.add(server);
        return server;
    }
}
