package dev.lanyard.client.credentials;

import dev.lanyard.client.testing.v1.InventoryServiceGrpc;
import dev.lanyard.client.testing.v1.ListItemsRequest;
import dev.lanyard.client.testing.v1.ListItemsResponse;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;

/**
 * A real gRPC server on a free port whose InventoryService answers ListItems with nothing, noting the
 * SPIFFE ID each caller presented and the TLS session it came over: the tests look at who got through.
 */
final class InventoryServer implements AutoCloseable {

    private final List<String> callers = new CopyOnWriteArrayList<>();
    private final List<String> sessions = new CopyOnWriteArrayList<>();
    private final Server server;

    private InventoryServer(ServerCredentials credentials) throws IOException {
        ServerInterceptor noteCaller = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                    ServerCallHandler<Q, R> next) {
                SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                sessions.add(session.getClass().getName() + " " + session.getProtocol());
                try {
                    callers.add(IssuedSvidCheck.spiffeId((X509Certificate) session.getPeerCertificates()[0]));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                return next.startCall(call, headers);
            }
        };
        server = Grpc.newServerBuilderForPort(0, credentials)
                .addService(ServerInterceptors.intercept(new Empty(), noteCaller)).build().start();
    }

    static InventoryServer start(ServerCredentials credentials) throws IOException {
        return new InventoryServer(credentials);
    }

    int port() {
        return server.getPort();
    }

    /** The SPIFFE IDs of the calls that got through, in order. */
    List<String> callers() {
        return callers;
    }

    /** Each call's TLS session: its class (which provider served it) and protocol. */
    List<String> sessions() {
        return sessions;
    }

    /** One ListItems call over a channel of its own; a refusal is the call's StatusRuntimeException. */
    void call(ChannelCredentials credentials) {
        call(credentials, port());
    }

    /** One ListItems call to the inventory on {@code port}, over a channel of its own. */
    static void call(ChannelCredentials credentials, int port) {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("localhost", port, credentials).build();
        try {
            InventoryServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .listItems(ListItemsRequest.getDefaultInstance());
        } finally {
            channel.shutdownNow();
        }
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    /** Answers ListItems with nothing. */
    static final class Empty extends InventoryServiceGrpc.InventoryServiceImplBase {
        @Override
        public void listItems(ListItemsRequest request, StreamObserver<ListItemsResponse> response) {
            response.onNext(ListItemsResponse.getDefaultInstance());
            response.onCompleted();
        }
    }
}
