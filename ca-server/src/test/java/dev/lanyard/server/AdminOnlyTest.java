package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.RevocationServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every admin RPC, called by a workload that is not an admin and by a caller without a certificate. */
class AdminOnlyTest {

    static final String WORKLOAD = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    static Path dir;
    static RunningServer lanyard;
    static Credential workload;

    @BeforeAll
    static void start() throws Exception {
        lanyard = RunningServer.start(dir);
        lanyard.register(WORKLOAD);
        workload = lanyard.bootstrap(WORKLOAD);
    }

    @AfterAll
    static void stop() {
        lanyard.close();
    }

    /** Every method of every admin service, but the one revocation method any workload may use. */
    static Stream<MethodDescriptor<?, ?>> adminMethods() {
        return Stream.of(AdminServiceGrpc.getServiceDescriptor(), AuditServiceGrpc.getServiceDescriptor(),
                        KeyServiceGrpc.getServiceDescriptor(),
                        ContractServiceGrpc.getServiceDescriptor(), PolicyServiceGrpc.getServiceDescriptor(),
                        RevocationServiceGrpc.getServiceDescriptor())
                .map(ServiceDescriptor::getMethods)
                .flatMap(java.util.Collection::stream)
                .filter(m -> !m.equals(RevocationServiceGrpc.getWatchRevocationsMethod()))
                .map(m -> (MethodDescriptor<?, ?>) m);
    }

    @Test
    void theTableCoversEveryAdminService() {
        assertThat(adminMethods().map(MethodDescriptor::getServiceName).distinct())
                .containsExactlyInAnyOrder("lanyard.v1.AdminService", "lanyard.v1.AuditService", "lanyard.v1.KeyService",
                        "lanyard.v1.ContractService", "lanyard.v1.PolicyService", "lanyard.v1.RevocationService");
        assertThat(adminMethods().count()).isEqualTo(20);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("adminMethods")
    void aWorkloadThatIsNotAnAdminIsRefused(MethodDescriptor<?, ?> method) {
        assertThatThrownBy(() -> call(method, workload)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.getStatus().getDescription()).isEqualTo(WORKLOAD + " is not an admin of this server");
        });
        assertThat(lanyard.server().audit().recent(5)).anySatisfy(event -> {
            assertThat(event.actor()).isEqualTo(WORKLOAD);
            assertThat(event.target()).isEqualTo(method.getFullMethodName());
            assertThat(event.outcome().name()).isEqualTo("REFUSED");
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("adminMethods")
    void aCallerWithoutACertificateIsRefused(MethodDescriptor<?, ?> method) {
        assertThatThrownBy(() -> call(method, null)).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    }

    @SuppressWarnings("unchecked")
    private static void call(MethodDescriptor<?, ?> untyped, Credential client) {
        MethodDescriptor<Object, Object> method = (MethodDescriptor<Object, Object>) untyped;
        Object request = ((MethodDescriptor.PrototypeMarshaller<Object>) method.getRequestMarshaller())
                .getMessagePrototype();
        CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS);
        var channel = lanyard.channel(client);
        if (method.getType() == MethodDescriptor.MethodType.UNARY) {
            ClientCalls.blockingUnaryCall(channel, method, options, request);
        } else {
            List<Object> ignored = new java.util.ArrayList<>();
            ClientCalls.blockingServerStreamingCall(channel, method, options, request).forEachRemaining(ignored::add);
        }
    }
}
