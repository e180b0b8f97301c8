package dev.lanyard.client.grpc;

import static dev.lanyard.client.testing.TestTokens.AUDIENCE;
import static dev.lanyard.client.testing.TestTokens.ISSUER;
import static dev.lanyard.client.testing.TestTokens.SUBJECT;
import static dev.lanyard.client.testing.TestTokens.claims;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.lanyard.client.testing.NothingRevoked;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.client.testing.TestTokens;
import dev.lanyard.client.testing.v1.AddItemRequest;
import dev.lanyard.client.testing.v1.AddItemResponse;
import dev.lanyard.client.testing.v1.AnonymousServiceGrpc;
import dev.lanyard.client.testing.v1.InventoryProto;
import dev.lanyard.client.testing.v1.InventoryServiceGrpc;
import dev.lanyard.client.testing.v1.LedgerServiceGrpc;
import dev.lanyard.client.testing.v1.ListItemsRequest;
import dev.lanyard.client.testing.v1.ListItemsResponse;
import dev.lanyard.client.token.JwksSource;
import dev.lanyard.client.token.TokenVerifier;
import dev.lanyard.client.token.VerifiedToken;
import dev.lanyard.testing.MutableClock;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The interceptor in front of a real gRPC service, called over real mTLS on loopback. */
class ScopeEnforcingInterceptorTest {

    private static final TestTokens TOKENS = new TestTokens();

    private final MutableClock clock = MutableClock.startingNow();
    private final TestPki pki = new TestPki(clock, "lanyard.local");
    private final TestPki.Held serverCert = pki.leaf(AUDIENCE, "localhost");
    private final TestPki.Held caller = pki.leaf(SUBJECT);
    private final TestPki.Held otherCaller = pki.leaf("spiffe://lanyard.local/ns/shop/sa/other");
    /** Whether the verifier's revocations are loaded (a watcher that has caught up). */
    private final AtomicBoolean revocationsLoaded = new AtomicBoolean(true);
    private final TokenVerifier verifier = TokenVerifier.builder().issuer(ISSUER).audience(AUDIENCE)
            .jwks(JwksSource.fixed(TOKENS.publicJwks())).clock(clock).revocations(new NothingRevoked(wait -> revocationsLoaded.get())).build();
    private final List<Metadata> headersSeenDownstream = new CopyOnWriteArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private ScopeEnforcingInterceptor interceptor;
    private Server server;

    /** Answers with what the handler reads from the verified token. */
    private static final class Inventory extends InventoryServiceGrpc.InventoryServiceImplBase {
        @Override
        public void listItems(ListItemsRequest request, StreamObserver<ListItemsResponse> response) {
            VerifiedToken token = ScopeEnforcingInterceptor.verifiedToken();
            response.onNext(ListItemsResponse.newBuilder().setCaller(token.subject())
                    .addAllScopes(new java.util.TreeSet<>(token.scopes())).build());
            response.onCompleted();
        }

        @Override
        public void addItem(AddItemRequest request, StreamObserver<AddItemResponse> response) {
            response.onNext(AddItemResponse.newBuilder().setCaller(ScopeEnforcingInterceptor.verifiedToken().subject())
                    .build());
            response.onCompleted();
        }

        @Override
        public void forgotten(ListItemsRequest request, StreamObserver<ListItemsResponse> response) {
            response.onNext(ListItemsResponse.getDefaultInstance());
            response.onCompleted();
        }
    }

    @BeforeEach
    void startServer() throws IOException {
        ServerServiceDefinition inventory = new Inventory().bindService();
        interceptor = ScopeEnforcingInterceptor.forServices(verifier, inventory);
        ServerInterceptor recordHeaders = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                headersSeenDownstream.add(headers);
                return next.startCall(call, headers);
            }
        };
        TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
                .keyManager(serverCert.keyManager())
                .trustManager(pki.trustManager())
                .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        // The last interceptor listed runs first: the scope check, then the recorder.
        server = Grpc.newServerBuilderForPort(0, tls.build())
                .addService(ServerInterceptors.intercept(inventory, recordHeaders, interceptor))
                .build().start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        channels.forEach(ManagedChannel::shutdownNow);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private InventoryServiceGrpc.InventoryServiceBlockingStub stub(TestPki.Held client, String authorization) {
        ChannelCredentials credentials = TlsChannelCredentials.newBuilder()
                .keyManager(client.keyManager()).trustManager(pki.trustManager()).build();
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", server.getPort(), credentials).build();
        channels.add(channel);
        InventoryServiceGrpc.InventoryServiceBlockingStub stub = InventoryServiceGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS);
        if (authorization != null) {
            Metadata headers = new Metadata();
            headers.put(ScopeEnforcingInterceptor.AUTHORIZATION, authorization);
            stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        return stub;
    }

    private String token(JWTClaimsSet.Builder claims) {
        return TOKENS.es256(claims.build());
    }

    private JWTClaimsSet.Builder claimsFor(TestPki.Held client, String scope) {
        return claims(client.leaf(), clock.instant()).claim("scope", scope);
    }

    private static StatusRuntimeException refused(Runnable call, String token) {
        StatusRuntimeException e = catchThrowableOfType(StatusRuntimeException.class, call::run);
        assertThat(e).as("the call should have been refused").isNotNull();
        if (token != null) {
            assertThat(e.getStatus().getDescription()).doesNotContain(token).doesNotContain(token.split("\\.")[2]);
        }
        return e;
    }

    @Test
    void letsACallWithTheRequiredScopeThroughAndHandsTheTokenToTheHandler() {
        String token = token(claimsFor(caller, "inventory.read"));

        ListItemsResponse response = stub(caller, "Bearer " + token).listItems(ListItemsRequest.getDefaultInstance());

        assertThat(response.getCaller()).isEqualTo(SUBJECT);
        assertThat(response.getScopesList()).containsExactly("inventory.read");
        assertThat(headersSeenDownstream).hasSize(1);
        assertThat(headersSeenDownstream.get(0).containsKey(ScopeEnforcingInterceptor.AUTHORIZATION))
                .as("the token is removed before the handler").isFalse();
    }

    @Test
    void letsACallNeedingTwoScopesThroughWithBoth() {
        String token = token(claimsFor(caller, "inventory.read inventory.write"));

        assertThat(stub(caller, "bearer " + token).addItem(AddItemRequest.newBuilder().setName("x").build()).getCaller())
                .isEqualTo(SUBJECT);
    }

    /** Until the verifier's revocations are loaded every call is UNAVAILABLE (retryable), saying why. */
    @Test
    void refusesUnavailableUntilTheRevocationsAreLoaded() {
        String token = token(claimsFor(caller, "inventory.read inventory.write"));
        revocationsLoaded.set(false);

        StatusRuntimeException e = refused(() -> stub(caller, "Bearer " + token)
                .addItem(AddItemRequest.newBuilder().setName("x").build()), token);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(e.getStatus().getDescription()).startsWith("token refused: REVOCATIONS_NOT_LOADED: "
                + "revocations are not loaded yet");
        assertThat(headersSeenDownstream).isEmpty();
        revocationsLoaded.set(true);
        assertThat(stub(caller, "Bearer " + token).addItem(AddItemRequest.newBuilder().setName("x").build())
                .getCaller()).isEqualTo(SUBJECT);
    }

    @Test
    void refusesAMissingScopeNamingIt() {
        String token = token(claimsFor(caller, "inventory.read"));

        StatusRuntimeException e = refused(() -> stub(caller, "Bearer " + token)
                .addItem(AddItemRequest.newBuilder().setName("x").build()), token);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getStatus().getDescription()).isEqualTo("the token of " + SUBJECT
                + " lacks scope inventory.write, required by lanyard.clienttest.v1.InventoryService/AddItem");
        assertThat(headersSeenDownstream).isEmpty();
    }

    @Test
    void refusesACallWithoutAToken() {
        StatusRuntimeException e = refused(() -> stub(caller, null).listItems(ListItemsRequest.getDefaultInstance()),
                null);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(e.getStatus().getDescription()).isEqualTo("missing authorization: Bearer token for " + AUDIENCE);
    }

    @Test
    void refusesAnotherAuthorizationScheme() {
        StatusRuntimeException e = refused(() -> stub(caller, "Basic dXNlcjpwYXNz")
                .listItems(ListItemsRequest.getDefaultInstance()), null);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(e.getStatus().getDescription()).isEqualTo("the authorization header is not a Bearer token");
    }

    @Test
    void refusesAnExpiredToken() {
        String token = token(claimsFor(caller, "inventory.read"));
        clock.advance(Duration.ofMinutes(6));

        StatusRuntimeException e = refused(() -> stub(caller, "Bearer " + token)
                .listItems(ListItemsRequest.getDefaultInstance()), token);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(e.getStatus().getDescription()).startsWith("token refused: EXPIRED: the token expired at ");
    }

    @Test
    void refusesATokenForAnotherAudience() {
        String token = token(claimsFor(caller, "inventory.read").audience("spiffe://lanyard.local/ns/finance/sa/ledger"));

        StatusRuntimeException e = refused(() -> stub(caller, "Bearer " + token)
                .listItems(ListItemsRequest.getDefaultInstance()), token);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(e.getStatus().getDescription()).isEqualTo("token refused: AUDIENCE: audience "
                + "\"spiffe://lanyard.local/ns/finance/sa/ledger\" is not the expected \"" + AUDIENCE + "\"");
    }

    @Test
    void refusesATokenPresentedOverAnotherCallersConnection() {
        String stolen = token(claimsFor(caller, "inventory.read"));

        StatusRuntimeException e = refused(() -> stub(otherCaller, "Bearer " + stolen)
                .listItems(ListItemsRequest.getDefaultInstance()), stolen);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(e.getStatus().getDescription()).startsWith(
                "token refused: CNF_MISMATCH: the token is bound to another certificate than the caller's");
    }

    @Test
    void refusesEveryCallToAMethodThatDeclaresNoScopesAndReportsItAtConstruction() {
        String token = token(claimsFor(caller, "inventory.read inventory.write"));

        StatusRuntimeException e = refused(() -> stub(caller, "Bearer " + token)
                .forgotten(ListItemsRequest.getDefaultInstance()), token);

        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getStatus().getDescription()).isEqualTo("method lanyard.clienttest.v1.InventoryService/Forgotten "
                + "declares no lanyard.v1.required_scopes, so it accepts no token");
        assertThat(interceptor.unprotectedMethods()).containsExactly("lanyard.clienttest.v1.InventoryService/Forgotten");
    }

    @Test
    void readsTheRequiredScopesFromTheMethodOptions() {
        assertThat(interceptor.requiredScopes("lanyard.clienttest.v1.InventoryService/AddItem"))
                .containsExactly("inventory.read", "inventory.write");
        assertThat(interceptor.requiredScopes("lanyard.clienttest.v1.InventoryService/ListItems"))
                .containsExactly("inventory.read");
        assertThat(interceptor.requiredScopes("lanyard.clienttest.v1.InventoryService/Forgotten")).isEmpty();
        assertThat(interceptor.requiredScopes("other.Service/Method")).isEmpty();
        assertThat(ScopeEnforcingInterceptor.forDescriptors(verifier,
                InventoryProto.getDescriptor().findServiceByName("InventoryService"))
                .requiredScopes("lanyard.clienttest.v1.InventoryService/AddItem"))
                .containsExactly("inventory.read", "inventory.write");
    }

    @Test
    void refusesACallThatDidNotArriveOverTls() throws Exception {
        ServerServiceDefinition inventory = new Inventory().bindService();
        Server plaintext = Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
                .addService(ServerInterceptors.intercept(inventory, interceptor)).build().start();
        try {
            ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", plaintext.getPort(),
                    InsecureChannelCredentials.create()).build();
            channels.add(channel);
            Metadata headers = new Metadata();
            String token = token(claimsFor(caller, "inventory.read"));
            headers.put(ScopeEnforcingInterceptor.AUTHORIZATION, "Bearer " + token);
            ClientInterceptor attach = MetadataUtils.newAttachHeadersInterceptor(headers);

            StatusRuntimeException e = refused(() -> InventoryServiceGrpc.newBlockingStub(channel)
                    .withInterceptors(attach).listItems(ListItemsRequest.getDefaultInstance()), token);

            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
            assertThat(e.getStatus().getDescription())
                    .isEqualTo("the call did not arrive over TLS; tokens are bound to a client certificate");
        } finally {
            plaintext.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void refusesAtConstructionAServiceOfAnotherAudience() {
        assertThatThrownBy(() -> ScopeEnforcingInterceptor.forServices(verifier,
                new LedgerServiceGrpc.LedgerServiceImplBase() { }.bindService()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("service lanyard.clienttest.v1.LedgerService has audience "
                        + "\"spiffe://lanyard.local/ns/finance/sa/ledger\", but the verifier accepts tokens for \""
                        + AUDIENCE + "\"");
    }

    @Test
    void refusesAtConstructionAServiceWithoutAudience() {
        assertThatThrownBy(() -> ScopeEnforcingInterceptor.forServices(verifier,
                new AnonymousServiceGrpc.AnonymousServiceImplBase() { }.bindService()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("service lanyard.clienttest.v1.AnonymousService declares no lanyard.v1.audience option, "
                        + "so no token can be meant for it");
    }

    @Test
    void refusesAtConstructionAServiceWithoutProtoDescriptorOrGivenTwice() {
        MethodDescriptor<ListItemsRequest, ListItemsResponse> bare = InventoryServiceGrpc.getListItemsMethod().toBuilder()
                .setFullMethodName("hand.Made/List").setSchemaDescriptor(null).build();
        ServerServiceDefinition handMade = ServerServiceDefinition.builder("hand.Made")
                .addMethod(bare, ServerCalls.asyncUnaryCall((request, response) -> response.onCompleted()))
                .build();

        assertThatThrownBy(() -> ScopeEnforcingInterceptor.forServices(verifier, handMade))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("service hand.Made carries no proto descriptor to read lanyard.v1 options from "
                        + "(was it generated by protoc-gen-grpc-java?)");
        ServerServiceDefinition inventory = new Inventory().bindService();
        assertThatThrownBy(() -> ScopeEnforcingInterceptor.forServices(verifier, inventory, inventory))
                .hasMessage("service lanyard.clienttest.v1.InventoryService is given twice");
        assertThatThrownBy(() -> ScopeEnforcingInterceptor.forServices(verifier))
                .hasMessage("no service to protect");
    }

    @Test
    void verifiedTokenOutsideAProtectedCallIsAnError() {
        assertThatThrownBy(ScopeEnforcingInterceptor::verifiedToken)
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("no verified token: the call did not pass a ScopeEnforcingInterceptor");
    }
}
