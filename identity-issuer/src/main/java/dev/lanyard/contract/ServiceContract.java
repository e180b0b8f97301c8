package dev.lanyard.contract;

import dev.lanyard.v1.Contract;
import dev.lanyard.v1.MethodContract;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * One service's contract: its audience and, per full gRPC method name ({@code /pkg.Svc/Method}),
 * the scopes a token must hold to call it. Methods keep their declaration order; an empty set
 * means no token can call the method.
 */
public record ServiceContract(String audience, String serviceName, Map<String, Set<String>> requiredScopes) {

    public ServiceContract {
        Objects.requireNonNull(audience, "audience");
        Objects.requireNonNull(serviceName, "serviceName");
        Map<String, Set<String>> copy = new LinkedHashMap<>();
        requiredScopes.forEach((method, scopes) ->
                copy.put(method, Collections.unmodifiableSet(new LinkedHashSet<>(scopes))));
        requiredScopes = Collections.unmodifiableMap(copy);
    }

    /** Every scope some method of the service requires, sorted: what a token for this audience may hold. */
    public Set<String> declaredScopes() {
        Set<String> all = new TreeSet<>();
        requiredScopes.values().forEach(all::addAll);
        return Collections.unmodifiableSet(all);
    }

    /** The wire form for the admin API. */
    public Contract toProto() {
        Contract.Builder contract = Contract.newBuilder().setAudience(audience).setService(serviceName);
        requiredScopes.forEach((method, scopes) -> contract.addMethods(
                MethodContract.newBuilder().setMethod(method).addAllRequiredScopes(scopes)));
        return contract.build();
    }
}
