package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.FakeScheduler;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AddRootRequest;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.RotateKeysRequest;
import io.grpc.ChannelCredentials;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A workload's gRPC server built from {@link WorkloadCredentials#serverCredentials()} before Lanyard rotates its
 * root takes calls, after the rotation, from a client whose SVID chains to the new root and whose key manager is the
 * JDK's own. Lanyard names each root after its key, so the new root has a new name: had the server named its roots
 * in its CertificateRequest (Netty's OpenSSL server, gRPC's default, reads them once, when it is built), such a
 * client would present nothing. Real Lanyard, a real root rotation, real gRPC over TLS.
 */
class RootRotationGrpcServerTest {

    private static final String INVENTORY = "spiffe://lanyard.local/ns/shop/sa/inventory";
    private static final String CALLER = "spiffe://lanyard.local/ns/shop/sa/api";
    /** Short, so a new intermediate signs two seconds after it is published: no SVID is dated after real time. */
    private static final Duration PUBLISH_LEAD = Duration.ofSeconds(2);

    @TempDir
    Path dataDir;

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
