package dev.lanyard.client.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.client.grpc.ScopeEnforcingInterceptor;
import dev.lanyard.client.revocation.RevocationWatcher;
import dev.lanyard.client.token.HttpJwksSource;
import dev.lanyard.client.token.TokenVerifier;
import dev.lanyard.credential.Credential;
import dev.lanyard.examples.payments.v1.ChargeRequest;
import dev.lanyard.examples.payments.v1.GetPaymentRequest;
import dev.lanyard.examples.payments.v1.Payment;
import dev.lanyard.examples.payments.v1.PaymentsServiceGrpc;
import dev.lanyard.server.ReloadingKeyManager;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import io.grpc.CallCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example payments service, generated from proto/examples, behind the scope-enforcing
 * interceptor, called over real mTLS with tokens from a real Lanyard server.
 */
class ExamplePaymentsServiceTest {

    private static final String PAYMENTS = "spiffe://lanyard.local/ns/payments/sa/api";
    private static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";
    private static final String OTHER = "spiffe://lanyard.local/ns/shop/sa/other";

    @TempDir
    Path dir;
    RunningServer lanyard;
    Server payments;
    Credential web;
    Credential other;
    ECKey signingJwk;
    RevocationWatcher revocations;
    ScheduledExecutorService scheduler;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments"
                         scopes: "payments.charge" scopes: "payments.read" }
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "ledger" scopes: "ledger.read" }
                """);
        lanyard.register(PAYMENTS, "localhost");
        lanyard.register(WEB);
        lanyard.register(OTHER);
        web = lanyard.bootstrap(WEB);
        other = lanyard.bootstrap(OTHER);
        Credential serverCredential = lanyard.bootstrap(PAYMENTS, "localhost");

        scheduler = Executors.newSingleThreadScheduledExecutor();
        revocations = RevocationWatcher.builder().channel(lanyard.channel(serverCredential))
                .crlFallback(List.of(URI.create(lanyard.httpUrl("/crl"))), () -> serverCredential.chain())
                .scheduler(scheduler).start();
        TokenVerifier verifier = TokenVerifier.builder()
                .issuer(lanyard.server().config().issuer())
                .audience("payments")
                .clock(lanyard.clock())
                // The test server publishes over plain HTTP on loopback.
                .jwks(HttpJwksSource.allowingPlainHttp(URI.create(lanyard.httpUrl("/.well-known/jwks.json")),
                        HttpClient.newHttpClient(), lanyard.clock()))
                .revocations(revocations)
                .revocationWait(Duration.ofSeconds(30)) // the first calls may come before the watcher caught up
                .build();
        var service = ServerInterceptors.intercept(new Payments(),
                ScopeEnforcingInterceptor.forServices(verifier, new Payments().bindService()));
        payments = Grpc.newServerBuilderForPort(0, TlsServerCredentials.newBuilder()
                        .keyManager(new ReloadingKeyManager(serverCredential))
                        .trustManager(trust(serverCredential.bundle()))
                        .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE).build())
                .addService(service).build().start();
        signingJwk = (ECKey) JWKSet.load(URI.create(lanyard.httpUrl("/.well-known/jwks.json")).toURL()).getKeys().get(0);
    }

    @AfterEach
    void stop() throws Exception {
        revocations.close();
        scheduler.shutdownNow();
        payments.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        lanyard.close();
    }

    @Test
    void aTokenWithTheRequiredScopeIsAllowed() {
        Payment payment = stub(web, token(web, "payments", "payments.charge")).charge(charge());
        assertThat(payment.getPaymentId()).isEqualTo("pay-1 by " + WEB);
    }

    @Test
    void aMissingScopeIsPermissionDenied() {
        assertRefused(() -> stub(web, token(web, "payments", "payments.read")).charge(charge()),
                Status.Code.PERMISSION_DENIED, "payments.charge");
        assertThat(stub(web, token(web, "payments", "payments.read"))
                .getPayment(GetPaymentRequest.newBuilder().setPaymentId("p").build()).getPaymentId()).isEqualTo("p");
    }

    @Test
    void aTokenForAnotherAudienceIsRefused() {
        assertRefused(() -> stub(web, token(web, "ledger", "ledger.read")).charge(charge()),
                Status.Code.UNAUTHENTICATED, "audience");
    }

    @Test
    void anExpiredTokenIsRefused() {
        String token = token(web, "payments", "payments.charge");
        lanyard.clock().advance(Duration.ofMinutes(6));
        assertRefused(() -> stub(web, token).charge(charge()), Status.Code.UNAUTHENTICATED, "expired");
    }

    @Test
    void aTokenReplayedOverAnotherCertificateIsRefused() {
        String stolen = token(web, "payments", "payments.charge");
        assertRefused(() -> stub(other, stolen).charge(charge()), Status.Code.UNAUTHENTICATED, "certificate");
    }

    @Test
    void aRevokedIdentityIsRefusedByLanyardAndByTheService() throws Exception {
        String token = token(web, "payments", "payments.charge");
        assertThat(stub(web, token).charge(charge()).getPaymentId()).isNotEmpty();
        String otherToken = token(other, "payments", "payments.charge");

        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(WEB))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());

        assertRefused(() -> lanyard.renew(web), Status.Code.PERMISSION_DENIED, WEB + " is revoked");
        assertRefused(() -> token(web, "payments", "payments.charge"), Status.Code.PERMISSION_DENIED, "is revoked");
        awaitRefusal(() -> stub(web, token).charge(charge()), "\"" + WEB + "\" is revoked");
        assertThat(stub(other, otherToken).charge(charge()).getPaymentId()).isNotEmpty();
    }

    @Test
    void aRevokedTokenIdIsRefusedWhileNewTokensWork() throws Exception {
        String token = token(web, "payments", "payments.charge");
        String jti = SignedJWT.parse(token).getJWTClaimsSet().getJWTID();
        lanyard.revocations().revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setJti(jti)).build());

        awaitRefusal(() -> stub(web, token).charge(charge()), "token \"" + jti + "\" is revoked");
        assertThat(stub(web, token(web, "payments", "payments.charge")).charge(charge()).getPaymentId()).isNotEmpty();
    }

    /** The service hears of a revocation over the watch stream; give it a few seconds, not a fixed wait. */
    private static void awaitRefusal(Runnable call, String messagePart) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try {
                call.run();
            } catch (StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
                assertThat(e.getStatus().getDescription()).contains(messagePart);
                return;
            }
            assertThat(System.nanoTime()).as("refused within 10 s").isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    @Test
    void forgedTokensAreRefused() throws Exception {
        SignedJWT real = SignedJWT.parse(token(web, "payments", "payments.charge"));
        String[] parts = real.serialize().split("\\.");

        String none = Base64URL.encode("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8))
                + "." + parts[1] + ".";
        assertRefused(() -> stub(web, none).charge(charge()), Status.Code.UNAUTHENTICATED, "");

        SignedJWT hs256 = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(signingJwk.getKeyID()).build(),
                real.getJWTClaimsSet());
        hs256.sign(new MACSigner(padded(signingJwk.toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8))));
        assertRefused(() -> stub(web, hs256.serialize()).charge(charge()), Status.Code.UNAUTHENTICATED, "");

        ECKey stranger = new ECKeyGenerator(Curve.P_256).keyID("unknown-kid").generate();
        SignedJWT unknownKid = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID("unknown-kid").build(),
                real.getJWTClaimsSet());
        unknownKid.sign(new ECDSASigner(stranger));
        assertRefused(() -> stub(web, unknownKid.serialize()).charge(charge()), Status.Code.UNAUTHENTICATED, "");

        String payload = new String(Base64URL.from(parts[1]).decode(), StandardCharsets.UTF_8)
                .replace("payments.charge", "payments.refund");
        String tampered = parts[0] + "." + Base64URL.encode(payload.getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        assertRefused(() -> stub(web, tampered).charge(charge()), Status.Code.UNAUTHENTICATED, "");

        assertRefused(() -> stub(web, null).charge(charge()), Status.Code.UNAUTHENTICATED, "");
    }

    /** HS256 needs a 256-bit secret; the attack uses the public key bytes, padded if short. */
    private static byte[] padded(byte[] secret) {
        return secret.length >= 32 ? secret : java.util.Arrays.copyOf(secret, 32);
    }

    private String token(Credential caller, String audience, String... scopes) {
        return lanyard.tokens(caller).issueToken(IssueTokenRequest.newBuilder().setAudience(audience)
                .addAllScopes(List.of(scopes)).build()).getToken();
    }

    private PaymentsServiceGrpc.PaymentsServiceBlockingStub stub(Credential caller, String token) {
        try {
            ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", payments.getPort(),
                    TlsChannelCredentials.newBuilder().keyManager(new ReloadingKeyManager(caller))
                            .trustManager(trust(caller.bundle())).build()).build();
            channels.add(channel);
            var stub = PaymentsServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
            return token == null ? stub : stub.withCallCredentials(new Bearer(token));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private final List<ManagedChannel> channels = new java.util.ArrayList<>();

    @AfterEach
    void closeChannels() {
        channels.forEach(ManagedChannel::shutdownNow);
    }

    private static ChargeRequest charge() {
        return ChargeRequest.newBuilder().setAccountId("acct").setAmountMinor(100).setCurrency("EUR")
                .setIdempotencyKey("k").build();
    }

    private static void assertRefused(Runnable call, Status.Code code, String messagePart) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).containsIgnoringCase(messagePart);
        });
    }

    private static javax.net.ssl.TrustManager trust(List<X509Certificate> roots) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        for (int i = 0; i < roots.size(); i++) {
            store.setCertificateEntry("root-" + i, roots.get(i));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
        factory.init(store);
        return factory.getTrustManagers()[0];
    }

    /** The example service: answers with who called, as the interceptor verified it. */
    private static final class Payments extends PaymentsServiceGrpc.PaymentsServiceImplBase {
        @Override
        public void charge(ChargeRequest request, StreamObserver<Payment> response) {
            response.onNext(Payment.newBuilder().setPaymentId("pay-1 by "
                    + ScopeEnforcingInterceptor.verifiedToken().subject()).build());
            response.onCompleted();
        }

        @Override
        public void getPayment(GetPaymentRequest request, StreamObserver<Payment> response) {
            response.onNext(Payment.newBuilder().setPaymentId(request.getPaymentId()).build());
            response.onCompleted();
        }
    }

    private static final class Bearer extends CallCredentials {
        private final String token;

        Bearer(String token) {
            this.token = token;
        }

        @Override
        public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
            applier.apply(headers);
        }
    }
}
