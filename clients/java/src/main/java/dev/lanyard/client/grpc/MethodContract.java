package dev.lanyard.client.grpc;

import java.util.Set;

/**
 * What one RPC requires, read from its .proto: the audience of its service and the scopes its
 * {@code lanyard.v1.required_scopes} option lists (empty when the method declares none).
 */
record MethodContract(String fullMethodName, String audience, Set<String> requiredScopes) {

    MethodContract {
        requiredScopes = Set.copyOf(requiredScopes);
    }

    boolean declaresScopes() {
        return !requiredScopes.isEmpty();
    }
}
