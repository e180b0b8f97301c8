package dev.lanyard.rpc;

import com.google.protobuf.Message;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.RevocationServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.ClientCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Every admin RPC Lanyard serves, callable with any request message (tests call each one generically). */
final class AdminRpcs {

    private AdminRpcs() {
    }

    @SuppressWarnings("unchecked")
    static List<MethodDescriptor<Message, Message>> all() {
        List<MethodDescriptor<Message, Message>> methods = new ArrayList<>();
        for (ServiceDescriptor service : List.of(AdminServiceGrpc.getServiceDescriptor(),
                KeyServiceGrpc.getServiceDescriptor(), ContractServiceGrpc.getServiceDescriptor(),
                PolicyServiceGrpc.getServiceDescriptor(), AuditServiceGrpc.getServiceDescriptor(),
                RevocationServiceGrpc.getServiceDescriptor(), dev.lanyard.v1.BackupServiceGrpc.getServiceDescriptor())) {
            for (MethodDescriptor<?, ?> method : service.getMethods()) {
                if (!method.equals(RevocationServiceGrpc.getWatchRevocationsMethod())) {
                    methods.add((MethodDescriptor<Message, Message>) method);
                }
            }
        }
        return methods;
    }

    /** The empty request of {@code method}. */
    static Message emptyRequest(MethodDescriptor<Message, Message> method) {
        return (Message) ((MethodDescriptor.PrototypeMarshaller<?>) method.getRequestMarshaller()).getMessagePrototype();
    }

    static Message call(Channel channel, MethodDescriptor<Message, Message> method, Message request) {
        return ClientCalls.blockingUnaryCall(channel, method,
                CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), request);
    }
}
