package dev.lanyard.client.grpc;

import com.google.protobuf.DescriptorProtos.MethodOptions;
import com.google.protobuf.DescriptorProtos.ServiceOptions;
import com.google.protobuf.Descriptors;
import com.google.protobuf.ExtensionRegistry;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lanyard.v1.OptionsProto;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the {@code lanyard.v1} contract options of a service from its descriptor. The options are
 * re-parsed with the extensions registered, so they are found even when the descriptor was built
 * without them (a descriptor from a descriptor set, or generated code that never loaded
 * options.proto).
 */
final class ContractOptions {

    private static final Pattern SCOPE = Pattern.compile("[a-z0-9]+([._:][a-z0-9]+)*");

    private final ExtensionRegistry registry = ExtensionRegistry.newInstance();

    ContractOptions() {
        OptionsProto.registerAllExtensions(registry);
    }

    /** Every method of {@code service}, by full gRPC method name ("package.Service/Method"). */
    Map<String, MethodContract> read(Descriptors.ServiceDescriptor service) {
        String audience = audience(service);
        Map<String, MethodContract> methods = new LinkedHashMap<>();
        for (Descriptors.MethodDescriptor method : service.getMethods()) {
            String name = service.getFullName() + "/" + method.getName();
            methods.put(name, new MethodContract(name, audience, requiredScopes(method, name)));
        }
        return methods;
    }

    private String audience(Descriptors.ServiceDescriptor service) {
        try {
            ServiceOptions options = ServiceOptions.parseFrom(service.getOptions().toByteString(), registry);
            String audience = options.getExtension(OptionsProto.audience);
            if (audience.isBlank()) {
                throw new IllegalArgumentException("service " + service.getFullName()
                        + " declares no lanyard.v1.audience option, so no token can be meant for it");
            }
            return audience;
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("cannot read the options of service " + service.getFullName(), e);
        }
    }

    private Set<String> requiredScopes(Descriptors.MethodDescriptor method, String name) {
        try {
            MethodOptions options = MethodOptions.parseFrom(method.getOptions().toByteString(), registry);
            Set<String> scopes = new LinkedHashSet<>(options.getExtension(OptionsProto.requiredScopes));
            for (String scope : scopes) {
                if (!SCOPE.matcher(scope).matches()) {
                    throw new IllegalArgumentException("method " + name + " requires scope \"" + scope
                            + "\", which is not a scope name (lower-case words joined by '.', ':' or '_')");
                }
            }
            return scopes;
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("cannot read the options of method " + name, e);
        }
    }
}
