package dev.lanyard.federation;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.util.Base64;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.testing.WebPki;
import dev.lanyard.v1.AddFederationRequest;
import dev.lanyard.v1.BundleEndpointProfile;
import dev.lanyard.v1.FederationServiceGrpc;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.Revocation;
import dev.lanyard.v1.RevocationServiceGrpc;
import io.grpc.ManagedChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A federated peer cannot make its certificate and token revocations permanent or numberless: a real
 * server (a.test) follows the /revocations document of b.test, served over real HTTPS by a peer that
 * says whatever the test makes it say.
 */
class FederatedRevocationLimitsTest {

    @TempDir
    Path dir;
    LanyardServer a;
    HttpsServer peer;
    ManagedChannel admin;
    volatile String revocations = "";

    @AfterEach
    void stop() throws Exception {
        if (admin != null) {
            admin.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (a != null) {
            a.close();
        }
        if (peer != null) {
            peer.stop(0);
        }
    }

    @Test
    void aPeersRevocationsNeedAnExpiryAreHeldNoLongerThanTheBoundAndNoMoreThanTheCap() throws Exception {
        startPeerAndA(Map.of("federation.revocation-max-lifetime", "2h", "federation.revocation-max-entries", "3"));
        long now = Instant.now().getEpochSecond();
        String normal = "{\"serial\":\"b1\",\"reason\":1,\"revoked_at\":" + now + ",\"expires_at\":" + (now + 3600) + "},"
                + "{\"jti\":\"far\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 100L * 86400) + "},"
                + "{\"spiffe_id\":\"spiffe://b.test/x\",\"revoked_at\":" + now + "}";

        // A normal document is taken in; a far-future expiry is held no longer than the bound (2h).
        serve(normal);
        await(() -> held().keySet().containsAll(List.of("b1", "far", "spiffe://b.test/x")), "b.test's document taken in");
        Map<String, Revocation> held = held();
        assertThat(held.get("b1").getExpiresAt().getSeconds()).isEqualTo(now + 3600);
        assertThat(held.get("far").getExpiresAt().getSeconds()).isBetween(now, Instant.now().getEpochSecond() + 7200);
        assertThat(held.get("spiffe://b.test/x").hasExpiresAt()).isFalse();
        assertThat(held.get("far").getTrustDomain()).isEqualTo("b.test");

        // A token id without an expiry: the document is refused, nothing of it taken in, what is held stays.
        serve(normal + ",{\"jti\":\"forever\",\"revoked_at\":" + now + "},{\"spiffe_id\":\"spiffe://b.test/y\","
                + "\"revoked_at\":" + now + "}");
        awaitRefused("the revocation of jti forever has no expires_at");
        assertThat(held().keySet()).containsExactlyInAnyOrder("b1", "far", "spiffe://b.test/x");

        // Four certificate and token revocations, over the cap of three: refused as a whole.
        serve(normal + ",{\"jti\":\"j2\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 60) + "},"
                + "{\"jti\":\"j3\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 60) + "},"
                + "{\"spiffe_id\":\"spiffe://b.test/y\",\"revoked_at\":" + now + "}");
        awaitRefused("lists 4 certificate and token revocations, over the 3 taken from one trust domain");
        // Three listed, but with the two held a fourth to hold: refused too.
        serve("{\"jti\":\"j2\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 60) + "},"
                + "{\"jti\":\"j3\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 60) + "},"
                + "{\"jti\":\"j4\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 60) + "}");
        awaitRefused("would hold 5 certificate and token revocations of b.test, over the 3 allowed");
        assertThat(held().keySet()).containsExactlyInAnyOrder("b1", "far", "spiffe://b.test/x");

        // A good document again is taken in.
        serve(normal + ",{\"jti\":\"j2\",\"revoked_at\":" + now + ",\"expires_at\":" + (now + 600) + "}");
        await(() -> held().containsKey("j2"), "a good document of b.test taken in again");
        assertThat(held().keySet()).containsExactlyInAnyOrder("b1", "far", "j2", "spiffe://b.test/x");
    }

    private void serve(String entries) {
        revocations = "{\"trust_domain\":\"b.test\",\"sequence\":1,\"revocations\":[" + entries + "]}";
    }

    /** What a.test holds of b.test, by serial, jti or SPIFFE ID, as its admin API lists it. */
    private Map<String, Revocation> held() {
        return RevocationServiceGrpc.newBlockingStub(admin).withDeadlineAfter(10, TimeUnit.SECONDS)
                .listRevocations(ListRevocationsRequest.newBuilder().setPageSize(1000).build()).getRevocationsList()
                .stream().filter(r -> r.getTrustDomain().equals("b.test")).collect(Collectors.toMap(r ->
                        switch (r.getTarget().getTargetCase()) {
                            case SERIAL -> r.getTarget().getSerial();
                            case JTI -> r.getTarget().getJti();
                            default -> r.getTarget().getSpiffeId();
                        }, r -> r));
    }

    private void awaitRefused(String why) throws Exception {
        await(() -> a.audit().recent(50).stream().anyMatch(e -> e.action().equals("federation.revocations")
                && e.outcome() == AuditEvent.Outcome.FAILED && e.reason().contains(why)
                && e.reason().contains("the revocations held stay")), "refused: " + why);
    }

    private void startPeerAndA(Map<String, String> limits) throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        peer = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("peer", web.keys().getPrivate(), new char[0], new Certificate[] {web.certificate()});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, new char[0]);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        peer.setHttpsConfigurator(new HttpsConfigurator(tls));
        // Any X.509 authority will do as b.test's bundle: the test is about its revocations.
        byte[] bundle = new JWKSet(new ECKey.Builder(Curve.P_256, (ECPublicKey) web.keys().getPublic())
                .keyUse(new KeyUse("x509-svid")).x509CertChain(List.of(Base64.encode(web.certificate().getEncoded())))
                .build()).toString(true).getBytes(StandardCharsets.UTF_8);
        peer.createContext("/bundle", exchange -> respond(exchange, bundle));
        peer.createContext("/revocations", exchange -> respond(exchange, revocations.getBytes(StandardCharsets.UTF_8)));
        peer.start();

        Path webRoots = dir.resolve("web-roots.pem");
        Files.writeString(webRoots, Pem.certificates(List.of(web.certificate())), StandardCharsets.US_ASCII);
        Map<String, String> settings = new java.util.HashMap<>(limits);
        settings.put("trust-domain", "a.test");
        settings.put("federation.web-roots", webRoots.toString());
        a = LanyardServer.start(ServerConfig.dev(dir.resolve("a"), 0, 0, settings), Clock.systemUTC());
        var credential = new CredentialDirectory(a.config().adminCredentialDir().orElseThrow())
                .read(CryptoProviders.bouncyCastleOnly());
        admin = TlsChannels.open(a.grpcPort(), a.trustBundle(), credential);
        FederationServiceGrpc.newBlockingStub(admin).addFederation(AddFederationRequest.newBuilder()
                .setTrustDomain("b.test").setBundleEndpointUrl("https://localhost:" + peer.getAddress().getPort()
                        + "/bundle").setProfile(BundleEndpointProfile.HTTPS_WEB).build());
    }

    private static void respond(com.sun.net.httpserver.HttpExchange exchange, byte[] body) throws java.io.IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, body.length);
        try (var out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static void await(BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            Thread.sleep(100);
        }
    }
}
