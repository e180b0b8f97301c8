package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.lanyard.client.testing.FakeScheduler;
import dev.lanyard.client.testing.TcpProxy;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.v1.InventoryServiceGrpc;
import dev.lanyard.client.testing.v1.ListItemsRequest;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.DeleteRegistrationRequest;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TokenServiceGrpc;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bootstrap and renewal against a real Lanyard server on loopback, with a clock the test moves. */
class WorkloadCredentialsTest {

    private static final String FRONTEND = "spiffe://lanyard.local/ns/shop/sa/frontend";
    private static final String INVENTORY = "spiffe://lanyard.local/ns/shop/sa/inventory";

    @TempDir
    Path dataDir;

    private RunningServer lanyard;
    private FakeScheduler scheduler;
    private final SecureRandom random = new SecureRandom();
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dataDir);
        scheduler = new FakeScheduler(lanyard.clock());
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        lanyard.close();
    }

    private String target() {
        return "localhost:" + lanyard.server().grpcPort();
    }

    private WorkloadCredentials.Builder builder(String joinToken) {
        return WorkloadCredentials.builder()
                .target(target())
                .joinToken(joinToken)
                .clock(lanyard.clock())
                .scheduler(scheduler)
                .random(random);
    }

    private WorkloadCredentials bootstrap(String spiffeId, String... dnsNames) throws CredentialException {
        lanyard.register(spiffeId, dnsNames);
        WorkloadCredentials credentials = builder(lanyard.joinToken(spiffeId))
                .trustBundle(lanyard.server().trustBundle())
                .dnsNames(List.of(dnsNames))
                .bootstrap();
        toClose.add(credentials);
        return credentials;
    }

    private static Duration untilHalfLife(X509Certificate leaf, Instant now) {
        Instant notBefore = leaf.getNotBefore().toInstant();
        return Duration.between(now, notBefore.plus(Duration.between(notBefore, leaf.getNotAfter().toInstant())
                .dividedBy(2)));
    }

    @Test
    void bootstrapsWithAJoinTokenAndSchedulesRenewalAtHalfLife() throws Exception {
        WorkloadCredentials credentials = bootstrap(FRONTEND);

        assertThat(credentials.spiffeId()).isEqualTo(FRONTEND);
        assertThat(credentials.certificate().getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(credentials.trustBundle()).containsExactlyElementsOf(lanyard.server().trustBundle());
        String alias = credentials.keyManager().chooseClientAlias(new String[] {"EC"}, null, null);
        assertThat(credentials.keyManager().getCertificateChain(alias)[0]).isEqualTo(credentials.certificate());
        assertThat(credentials.keyManager().getPrivateKey(alias)).isEqualTo(credentials.svid().privateKey());
        assertThat(scheduler.pending()).isEqualTo(1);
        assertThat(scheduler.nextDelay())
                .isEqualTo(untilHalfLife(credentials.certificate(), lanyard.clock().instant()).truncatedTo(
                        java.time.temporal.ChronoUnit.MILLIS));
        assertThat(credentials.toString()).contains(FRONTEND).doesNotContain("PRIVATE");
    }

    @Test
    void bootstrapsTrustingOnlyAPinnedRootFingerprint() throws Exception {
        lanyard.register(FRONTEND);
        WorkloadCredentials credentials = builder(lanyard.joinToken(FRONTEND))
                .pinnedRoot(lanyard.server().rootFingerprint())
                .bootstrap();
        toClose.add(credentials);

        assertThat(credentials.spiffeId()).isEqualTo(FRONTEND);
        assertThat(credentials.trustBundle()).containsExactlyElementsOf(lanyard.server().trustBundle());
    }

    @Test
    void refusesABundleWithoutThePinnedRootAndKeepsTheJoinTokenUnsent() throws Exception {
        lanyard.register(FRONTEND);
        String joinToken = lanyard.joinToken(FRONTEND);

        CredentialException e = catchThrowableOfType(CredentialException.class, () -> builder(joinToken)
                .pinnedRoot("sha256:" + "00".repeat(32)).bootstrap());

        assertThat(e).hasMessage("no root in the trust bundle from " + target() + " has the pinned fingerprint sha256:"
                + "0".repeat(64) + " (it has 1 roots)");
        // The token was never sent, so it still works.
        WorkloadCredentials credentials = builder(joinToken).pinnedRoot(lanyard.server().rootFingerprint()).bootstrap();
        toClose.add(credentials);
        assertThat(credentials.spiffeId()).isEqualTo(FRONTEND);
    }

    @Test
    void refusesAServerItCannotVerifyBeforeSendingTheJoinToken() throws Exception {
        lanyard.register(FRONTEND);
        String joinToken = lanyard.joinToken(FRONTEND);
        TestPki stranger = new TestPki(lanyard.clock(), "lanyard.local");

        CredentialException e = catchThrowableOfType(CredentialException.class, () -> builder(joinToken)
                .trustBundle(List.of(stranger.root())).bootstrap());

        assertThat(e.status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        assertThat(e.getMessage()).startsWith("bootstrap at " + target() + ": UNAVAILABLE").doesNotContain(joinToken);
        WorkloadCredentials credentials = builder(joinToken).trustBundle(lanyard.server().trustBundle()).bootstrap();
        toClose.add(credentials);
        assertThat(credentials.spiffeId()).isEqualTo(FRONTEND);
    }

    /**
     * A workload registered with the DNS name {@code localhost} holds a certificate for it, signed by the
     * real root: serving gRPC with it, it would pass a host-name check as "localhost". Lanyard is known by
     * its SPIFFE ID, so the join token never reaches it, with a trust bundle or a pinned root alike.
     */
    @Test
    void refusesAWorkloadPosingAsLanyardBeforeSendingTheJoinToken() throws Exception {
        Impostor impostor = impostor();
        lanyard.register(FRONTEND);
        String joinToken = lanyard.joinToken(FRONTEND);
        String atImpostor = "localhost:" + impostor.port();

        CredentialException withBundle = catchThrowableOfType(CredentialException.class, () -> builder(joinToken)
                .target(atImpostor).trustBundle(lanyard.server().trustBundle()).bootstrap());
        CredentialException withPin = catchThrowableOfType(CredentialException.class, () -> builder(joinToken)
                .target(atImpostor).pinnedRoot(lanyard.server().rootFingerprint()).bootstrap());

        assertThat(withBundle.status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        assertThat(withBundle.getMessage()).startsWith("bootstrap at " + atImpostor + ": UNAVAILABLE")
                .doesNotContain(joinToken);
        assertThat(withPin.status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        assertThat(withPin.getMessage()).startsWith("bootstrap at " + atImpostor + ": UNAVAILABLE")
                .doesNotContain(joinToken);
        // Only the public bundle was read from it (the pinned root's lookup, which sends nothing secret).
        assertThat(impostor.calls()).containsOnly("lanyard.v1.TrustBundleService/GetTrustBundle");
        WorkloadCredentials credentials = builder(joinToken).trustBundle(lanyard.server().trustBundle()).bootstrap();
        toClose.add(credentials);
        assertThat(credentials.spiffeId()).isEqualTo(FRONTEND);
    }

    /**
     * A Lanyard server of lanyard.local that issues an SVID of another trust domain, on a chain its roots
     * vouch for (roots may serve several trust domains), is not believed: the workload would otherwise
     * present an identity its own trust domain never gave it. No real server issues outside its trust
     * domain, so this one is a stand-in with a test CA.
     */
    @Test
    void bootstrapRefusesAnSvidOutsideTheServersTrustDomain() throws Exception {
        TestPki pki = new TestPki(lanyard.clock(), "lanyard.local");
        String foreign = "spiffe://other.test/ns/shop/sa/frontend";
        CertificateServiceGrpc.CertificateServiceImplBase issuer = new CertificateServiceGrpc.CertificateServiceImplBase() {
            @Override
            public void issueCertificate(dev.lanyard.v1.IssueCertificateRequest request,
                    StreamObserver<dev.lanyard.v1.CertificateResponse> response) {
                try {
                    X509Certificate leaf = pki.leaf(new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest(
                            request.getCsr().toByteArray()).getPublicKey(), foreign);
                    response.onNext(dev.lanyard.v1.CertificateResponse.newBuilder().setSpiffeId(foreign)
                            .setCertificate(com.google.protobuf.ByteString.copyFrom(leaf.getEncoded()))
                            .addChain(com.google.protobuf.ByteString.copyFrom(pki.intermediate().getEncoded()))
                            .addTrustBundle(com.google.protobuf.ByteString.copyFrom(pki.root().getEncoded()))
                            .setSerialNumber(leaf.getSerialNumber().toString(16)).build());
                    response.onCompleted();
                } catch (Exception e) {
                    response.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
                }
            }
        };
        Server server = Grpc.newServerBuilderForPort(0, TlsServerCredentials.newBuilder()
                .keyManager(pki.leaf("spiffe://lanyard.local/lanyard/server").keyManager()).build())
                .addService(issuer).build().start();
        toClose.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));

        assertThatThrownBy(() -> builder("lyjt_x.y").target("localhost:" + server.getPort())
                .trustBundle(List.of(pki.root())).bootstrap())
                .isInstanceOf(CredentialException.class)
                .hasMessage("the Lanyard server of trust domain lanyard.local issued a certificate for " + foreign
                        + ", which is outside its trust domain; it is not used");
    }

    /** Renewal, tokens, bundles and the channels handed out for Lanyard all refuse the impostor too. */
    @Test
    void laterChannelsToLanyardRefuseAWorkloadPosingAsIt() throws Exception {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "%s" audience: "payments" scopes: "payments.read" }
                """.formatted(FRONTEND));
        Impostor impostor = impostor();
        TcpProxy network = TcpProxy.start(lanyard.server().grpcPort());
        toClose.add(network);
        lanyard.register(FRONTEND);
        WorkloadCredentials credentials = builder(lanyard.joinToken(FRONTEND))
                .target("localhost:" + network.port()).trustBundle(lanyard.server().trustBundle()).bootstrap();
        toClose.add(credentials);
        Svid first = credentials.svid();
        ManagedChannel watch = Grpc.newChannelBuilder("localhost:" + network.port(),
                credentials.lanyardChannelCredentials()).build();
        toClose.add(watch::shutdownNow);
        dev.lanyard.v1.TrustBundleServiceGrpc.newBlockingStub(watch).withDeadlineAfter(30, TimeUnit.SECONDS)
                .getTrustBundle(dev.lanyard.v1.GetTrustBundleRequest.getDefaultInstance());

        network.redirect(impostor.port());

        CredentialException renewal = catchThrowableOfType(CredentialException.class, credentials::renewNow);
        assertThat(renewal.status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        CredentialException token = catchThrowableOfType(CredentialException.class,
                () -> credentials.token(first, "payments", Set.of("payments.read")));
        assertThat(token.status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        assertThatThrownBy(() -> credentials.federatedTrust(Set.of("lanyard.local")))
                .isInstanceOf(CredentialException.class).hasMessageContaining("UNAVAILABLE");
        assertThatThrownBy(() -> dev.lanyard.v1.TrustBundleServiceGrpc.newBlockingStub(watch)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .getTrustBundle(dev.lanyard.v1.GetTrustBundleRequest.getDefaultInstance()))
                .isInstanceOf(io.grpc.StatusRuntimeException.class).hasMessageStartingWith("UNAVAILABLE");
        assertThat(impostor.calls()).isEmpty();
        assertThat(credentials.svid()).isEqualTo(first);

        // The real server at the same address is still trusted.
        network.redirect(lanyard.server().grpcPort());
        assertThat(credentials.renewNow().serialHex()).isNotEqualTo(first.serialHex());
        assertThat(credentials.token(credentials.svid(), "payments", Set.of("payments.read"))).isNotBlank();
    }

    /** A gRPC server on TLS presenting a real workload SVID (DNS SAN localhost), recording what it is asked. */
    private record Impostor(int port, List<String> calls) {
    }

    private Impostor impostor() throws Exception {
        String spiffeId = "spiffe://lanyard.local/ns/shop/sa/impostor";
        lanyard.register(spiffeId, "localhost");
        dev.lanyard.credential.Credential svid = lanyard.bootstrap(spiffeId, "localhost");
        assertThat(svid.leaf().getSubjectAlternativeNames()).anyMatch(san -> san.get(1).equals("localhost"));
        List<String> calls = new CopyOnWriteArrayList<>();
        ServerInterceptor record = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                calls.add(call.getMethodDescriptor().getFullMethodName());
                return next.startCall(call, headers);
            }
        };
        TrustBundle realBundle = TrustBundleServiceGrpc.newBlockingStub(lanyard.channel(null))
                .getTrustBundle(GetTrustBundleRequest.getDefaultInstance());
        TrustBundleServiceGrpc.TrustBundleServiceImplBase bundles = new TrustBundleServiceGrpc.TrustBundleServiceImplBase() {
            @Override
            public void getTrustBundle(GetTrustBundleRequest request, StreamObserver<TrustBundle> response) {
                response.onNext(realBundle);
                response.onCompleted();
            }
        };
        ServerCredentials tls = TlsServerCredentials.newBuilder().keyManager(
                new TestPki.Held(svid.privateKey(), svid.leaf(), svid.chain().get(0)).keyManager()).build();
        Server server = Grpc.newServerBuilderForPort(0, tls)
                .addService(ServerInterceptors.intercept(new CertificateServiceGrpc.CertificateServiceImplBase() {
                }, record))
                .addService(ServerInterceptors.intercept(new TokenServiceGrpc.TokenServiceImplBase() {
                }, record))
                .addService(ServerInterceptors.intercept(bundles, record))
                .build().start();
        toClose.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
        return new Impostor(server.getPort(), calls);
    }

    @Test
    void reachesTheDevServerByItsLoopbackAddress() throws Exception {
        lanyard.register(FRONTEND);
        String joinToken = lanyard.joinToken(FRONTEND);
        // The dev server's certificate names 127.0.0.1 and ::1 as well as localhost.
        String byAddress = "127.0.0.1:" + lanyard.server().grpcPort();

        WorkloadCredentials credentials = builder(joinToken).target(byAddress)
                .trustBundle(lanyard.server().trustBundle()).bootstrap();
        toClose.add(credentials);
        assertThat(credentials.spiffeId()).isEqualTo(FRONTEND);
    }

    @Test
    void refusesAJoinTokenUsedOnceAlready() throws Exception {
        lanyard.register(FRONTEND);
        String joinToken = lanyard.joinToken(FRONTEND);
        toClose.add(builder(joinToken).trustBundle(lanyard.server().trustBundle()).bootstrap());

        CredentialException e = catchThrowableOfType(CredentialException.class, () -> builder(joinToken)
                .trustBundle(lanyard.server().trustBundle()).bootstrap());

        assertThat(e.status()).map(Status::getCode).isPresent().get().isNotEqualTo(Status.Code.OK);
        assertThat(e.getMessage()).startsWith("bootstrap at " + target() + ": ").doesNotContain(joinToken);
    }

    @Test
    void renewsAtHalfLifeWithANewKeyAndRenewsAgainWithTheRenewedCertificate() throws Exception {
        WorkloadCredentials credentials = bootstrap(FRONTEND);
        Svid first = credentials.svid();
        List<Svid> renewed = new CopyOnWriteArrayList<>();
        credentials.addRenewalListener(renewed::add);

        lanyard.clock().advance(scheduler.nextDelay().minusSeconds(1));
        assertThat(scheduler.runDue()).isZero();
        lanyard.clock().advance(Duration.ofSeconds(1));
        assertThat(scheduler.runDue()).isEqualTo(1);

        Svid second = credentials.svid();
        assertThat(second.spiffeId()).isEqualTo(FRONTEND);
        assertThat(second.serialHex()).isNotEqualTo(first.serialHex());
        assertThat(second.leaf().getPublicKey()).isNotEqualTo(first.leaf().getPublicKey());
        assertThat(renewed).containsExactly(second);
        assertThat(credentials.lastRenewalFailure()).isEmpty();
        assertThat(scheduler.pending()).isEqualTo(1);

        // The next renewal authenticates with the renewed certificate.
        lanyard.clock().advance(scheduler.nextDelay());
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(credentials.svid().serialHex()).isNotIn(first.serialHex(), second.serialHex());
        assertThat(renewed).hasSize(2);
    }

    @Test
    void backsOffWhileLanyardIsUnreachableAndRenewsWhenItIsBack() throws Exception {
        TcpProxy network = TcpProxy.start(lanyard.server().grpcPort());
        toClose.add(network);
        lanyard.register(FRONTEND);
        WorkloadCredentials credentials = builder(lanyard.joinToken(FRONTEND))
                .target("localhost:" + network.port())
                .trustBundle(lanyard.server().trustBundle())
                .bootstrap();
        toClose.add(credentials);
        Svid first = credentials.svid();
        network.cut();

        lanyard.clock().advance(scheduler.nextDelay());
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(credentials.lastRenewalFailure()).isPresent();
        assertThat(credentials.lastRenewalFailure().get().status()).map(Status::getCode).contains(Status.Code.UNAVAILABLE);
        assertThat(scheduler.nextDelay()).isEqualTo(Duration.ofSeconds(1));
        lanyard.clock().advance(Duration.ofSeconds(1));
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(scheduler.nextDelay()).isEqualTo(Duration.ofSeconds(2));
        lanyard.clock().advance(Duration.ofSeconds(2));
        assertThat(scheduler.runDue()).isEqualTo(1);
        assertThat(scheduler.nextDelay()).isEqualTo(Duration.ofSeconds(4));
        assertThat(credentials.svid()).isEqualTo(first);

        network.resume();
        lanyard.clock().advance(Duration.ofSeconds(4));
        assertThat(scheduler.runDue()).isEqualTo(1);

        assertThat(credentials.lastRenewalFailure()).isEmpty();
        assertThat(credentials.svid().serialHex()).isNotEqualTo(first.serialHex());
        assertThat(scheduler.nextDelay()).isGreaterThan(Duration.ofMinutes(10));
    }

    @Test
    void stopsRenewingWhenLanyardRefusesAndKeepsTheCurrentCertificate() throws Exception {
        WorkloadCredentials credentials = bootstrap(FRONTEND);
        Svid first = credentials.svid();
        lanyard.admin().deleteRegistration(DeleteRegistrationRequest.newBuilder().setSpiffeId(FRONTEND).build());

        lanyard.clock().advance(scheduler.nextDelay());
        scheduler.runDue();

        assertThat(credentials.lastRenewalFailure()).isPresent();
        Status.Code code = credentials.lastRenewalFailure().get().status().orElseThrow().getCode();
        assertThat(RenewalSchedule.isTransient(code)).as(code.toString()).isFalse();
        assertThat(credentials.lastRenewalFailure().get()).hasMessageStartingWith(
                "renewal of " + FRONTEND + " at " + target() + ": " + code);
        assertThat(scheduler.pending()).isZero();
        assertThat(credentials.svid()).isEqualTo(first);
    }

    @Test
    void workloadsCallEachOtherOverMutualTlsAcrossRenewals() throws Exception {
        WorkloadCredentials inventory = bootstrap(INVENTORY, "localhost");
        WorkloadCredentials frontend = bootstrap(FRONTEND);
        List<X509Certificate> callers = new CopyOnWriteArrayList<>();
        ServerInterceptor recordCaller = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                try {
                    callers.add((X509Certificate) call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION)
                            .getPeerCertificates()[0]);
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                    throw new IllegalStateException(e);
                }
                return next.startCall(call, headers);
            }
        };
        Server server = Grpc.newServerBuilderForPort(0, inventory.serverCredentials())
                .addService(ServerInterceptors.intercept(new InventoryServer.Empty(), recordCaller)).build().start();
        toClose.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));

        InventoryServer.call(frontend.channelCredentials(), server.getPort());
        frontend.renewNow();
        inventory.renewNow();
        InventoryServer.call(frontend.channelCredentials(), server.getPort());

        assertThat(callers).hasSize(2);
        assertThat(callers.get(0).getSerialNumber()).isNotEqualTo(callers.get(1).getSerialNumber());
        assertThat(callers.get(1)).isEqualTo(frontend.certificate());

        // The SSLContext does a plain JSSE handshake with the same material, host name checked.
        try (SSLSocket socket = (SSLSocket) frontend.sslContext().getSocketFactory()
                .createSocket()) {
            socket.connect(new InetSocketAddress("localhost", server.getPort()), 10_000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            parameters.setApplicationProtocols(new String[] {"h2"});
            parameters.setServerNames(List.of(new javax.net.ssl.SNIHostName("localhost")));
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            assertThat(socket.getSession().getPeerCertificates()[0]).isEqualTo(inventory.certificate());
        }
    }

    /** Serves ListItems and records, per call, whether the token's cnf is the caller's certificate. */
    private Server bindingCheckingServer(WorkloadCredentials credentials, List<String> mismatches, List<String> seen)
            throws java.io.IOException {
        ServerInterceptor checkBinding = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                try {
                    X509Certificate peer = (X509Certificate) call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION)
                            .getPeerCertificates()[0];
                    String token = headers.get(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER))
                            .substring("Bearer ".length());
                    Object bound = com.nimbusds.jwt.JWTParser.parse(token).getJWTClaimsSet().getJSONObjectClaim("cnf")
                            .get("x5t#S256");
                    seen.add(peer.getSerialNumber().toString(16));
                    if (!dev.lanyard.client.token.Thumbprint.x5tS256(peer).equals(bound)) {
                        mismatches.add("serial " + peer.getSerialNumber().toString(16));
                    }
                } catch (Exception e) {
                    mismatches.add(e.toString());
                }
                return next.startCall(call, headers);
            }
        };
        Server server = Grpc.newServerBuilderForPort(0, credentials.serverCredentials())
                .addService(ServerInterceptors.intercept(new InventoryServer.Empty(), checkBinding)).build().start();
        toClose.add(() -> server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
        return server;
    }

    private static void callWithToken(ManagedChannel channel, String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        InventoryServiceGrpc.newBlockingStub(channel)
                .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS).listItems(ListItemsRequest.getDefaultInstance());
    }

    @Test
    void aTokenTravelsOnAChannelPresentingTheCertificateItIsBoundToAcrossRenewals() throws Exception {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "%s" audience: "payments" scopes: "payments.read" }
                """.formatted(FRONTEND));
        WorkloadCredentials inventory = bootstrap(INVENTORY, "localhost");
        WorkloadCredentials frontend = bootstrap(FRONTEND);
        List<String> mismatches = new CopyOnWriteArrayList<>();
        List<String> seen = new CopyOnWriteArrayList<>();
        int port = bindingCheckingServer(inventory, mismatches, seen).getPort();

        // A renewal between taking the token and the handshake: the channel still presents the SVID taken.
        Svid before = frontend.svid();
        String token = frontend.token(before, "payments", Set.of("payments.read"));
        frontend.renewNow();
        ManagedChannel kept = Grpc.newChannelBuilderForAddress("localhost", port, frontend.channelCredentials(before))
                .build();
        toClose.add(kept::shutdownNow);
        callWithToken(kept, token);
        // After the renewal that channel still gets tokens for its SVID, minted over a channel presenting it.
        String later = frontend.token(before, "payments", Set.of("payments.read"));
        assertThat(later).isEqualTo(token);
        callWithToken(kept, later);

        // Renewals racing with calls: each call takes one SVID for its channel and its token.
        java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        java.util.concurrent.atomic.AtomicInteger renewals = new java.util.concurrent.atomic.AtomicInteger();
        Thread renewing = new Thread(() -> {
            while (running.get()) {
                try {
                    frontend.renewNow();
                    renewals.incrementAndGet();
                } catch (CredentialException e) {
                    mismatches.add("renewal: " + e.getMessage());
                }
            }
        });
        renewing.start();
        int calls = 0;
        try {
            for (; calls < 60; calls++) {
                Svid svid = frontend.svid();
                String bound = frontend.token(svid, "payments", Set.of("payments.read"));
                ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", port,
                        frontend.channelCredentials(svid)).build();
                try {
                    callWithToken(channel, bound);
                } finally {
                    channel.shutdownNow();
                }
            }
        } finally {
            running.set(false);
            renewing.join();
        }

        assertThat(mismatches).as("calls whose token was bound to another certificate than the channel's").isEmpty();
        assertThat(seen).hasSize(calls + 2);
        assertThat(renewals.get()).as("renewals during the calls").isGreaterThan(5);
        assertThat(new java.util.HashSet<>(seen).size()).as("certificates presented").isGreaterThan(5);
    }

    @Test
    void tokenSaysWhatLanyardAnswered() throws Exception {
        WorkloadCredentials credentials = bootstrap(FRONTEND);

        CredentialException e = catchThrowableOfType(CredentialException.class,
                () -> credentials.token(credentials.svid(), "payments", Set.of("payments.read")));

        assertThat(e.status()).isPresent();
        assertThat(e.getMessage()).startsWith("token for payments [payments.read] from " + target() + ": ");
    }

    @Test
    void closingStopsRenewal() throws Exception {
        WorkloadCredentials credentials = bootstrap(FRONTEND);

        credentials.close();

        assertThat(scheduler.pending()).isZero();
        assertThatThrownBy(credentials::renewNow).hasMessage("these credentials are closed");
    }

    @Test
    void bootstrapRefusesAnIncompleteConfiguration() {
        X509Certificate root = lanyard.server().trustBundle().get(0);
        assertThatThrownBy(() -> WorkloadCredentials.builder().joinToken("t").trustBundle(List.of(root))
                .clock(lanyard.clock()).scheduler(scheduler).random(random).bootstrap())
                .hasMessage("a target (Lanyard's host:port) is required");
        assertThatThrownBy(() -> builder(null).trustBundle(List.of(root)).bootstrap())
                .hasMessage("a join token is required to bootstrap");
        assertThatThrownBy(() -> builder("t").bootstrap())
                .hasMessage("exactly one of trustBundle and pinnedRoot is required to verify the server");
        assertThatThrownBy(() -> builder("t").trustBundle(List.of(root)).pinnedRoot("sha256:" + "ab".repeat(32))
                .bootstrap())
                .hasMessage("exactly one of trustBundle and pinnedRoot is required to verify the server");
        assertThatThrownBy(() -> builder("t").trustBundle(List.of()).bootstrap())
                .hasMessage("the trust bundle is empty");
        assertThatThrownBy(() -> builder("t").trustBundle(List.of(root)).scheduler(null).bootstrap())
                .hasMessage("a clock, a scheduler and a SecureRandom are required");
        assertThatThrownBy(() -> builder("t").trustBundle(List.of(root)).ttl(Duration.ZERO).bootstrap())
                .hasMessage("the requested TTL must be positive, not PT0S");
        assertThatThrownBy(() -> builder("t").trustBundle(List.of(root)).callTimeout(Duration.ofSeconds(-1)).bootstrap())
                .hasMessage("the call timeout must be positive, not PT-1S");
        assertThatThrownBy(() -> builder("t").trustBundle(List.of(root))
                .renewalBackoff(Duration.ofSeconds(10), Duration.ofSeconds(1)).bootstrap())
                .hasMessage("the maximum backoff PT1S is shorter than the initial PT10S");
    }
}
