package dev.lanyard.rpc;

import dev.lanyard.registration.AdminIds;
import dev.lanyard.registration.ReservedIds;
import dev.lanyard.registration.Selectors;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who may call which RPC, as data keyed by service and full method name. Built when the server is
 * built, and checked against every service it serves, so a method nobody classified fails the start,
 * not a call.
 */
public final class AccessPolicy {

    /** The kinds of caller an RPC admits. */
    public enum Access {
        /** No certificate needed (bootstrap, trust bundle, health, reflection). */
        ANYONE,
        /** A valid certificate of a registered workload; not one of Lanyard's reserved {@code /lanyard/*} IDs. */
        WORKLOAD,
        /** Any valid certificate of this trust domain, reserved IDs included (watching revocations). */
        AUTHENTICATED,
        /** A valid certificate of one of the configured admin IDs. */
        ADMIN,
        /** A valid certificate of a node agent, {@code spiffe://TD/lanyard/agent/...}. */
        AGENT
    }


    private final AdminIds admins;
    private final Map<String, Access> services;
    private final Map<String, Access> methods;

    private AccessPolicy(AdminIds admins, Map<String, Access> services, Map<String, Access> methods) {
        this.admins = admins;
        this.services = Map.copyOf(services);
        this.methods = Map.copyOf(methods);
    }

    public static Builder builder(AdminIds admins) {
        return new Builder(admins);
    }

    /** The access rule of a full method name ("package.Service/Method"). */
    public Access accessOf(String fullMethodName) {
        Access method = methods.get(fullMethodName);
        if (method != null) {
            return method;
        }
        Access service = services.get(fullMethodName.substring(0, Math.max(0, fullMethodName.indexOf('/'))));
        if (service == null) {
            throw new IllegalStateException("no access rule for " + fullMethodName);
        }
        return service;
    }

    /** Fails unless every method of every service has a rule. */
    public void checkCovers(List<ServerServiceDefinition> served) {
        List<String> missing = new ArrayList<>();
        for (ServerServiceDefinition service : served) {
            service.getMethods().forEach(m -> {
                String name = m.getMethodDescriptor().getFullMethodName();
                if (!methods.containsKey(name) && !services.containsKey(service.getServiceDescriptor().getName())) {
                    missing.add(name);
                }
            });
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("no access rule for " + missing);
        }
    }

    /** The full names of the methods of {@code served} that a caller without a certificate may call. */
    public Set<String> openToAnyone(List<ServerServiceDefinition> served) {
        Set<String> open = new HashSet<>();
        served.forEach(service -> service.getMethods().forEach(m -> {
            String name = m.getMethodDescriptor().getFullMethodName();
            if (accessOf(name) == Access.ANYONE) {
                open.add(name);
            }
        }));
        return Set.copyOf(open);
    }

    /**
     * Why {@code caller} may not call a method with {@code access}, if it may not. {@code caller} is
     * an {@link AuthenticatedPeer}, the reason its certificate was refused, or null (none sent).
     */
    Optional<Status> refusal(Access access, Object caller) {
        if (access == Access.ANYONE) {
            return Optional.empty();
        }
        if (!(caller instanceof AuthenticatedPeer peer)) {
            return Optional.of(Status.UNAUTHENTICATED.withDescription(caller == null
                    ? "this call needs a client certificate (mTLS)" : (String) caller));
        }
        return switch (access) {
            case ADMIN -> admins.contains(peer.spiffeId()) ? Optional.empty()
                    : Optional.of(Status.PERMISSION_DENIED.withDescription(
                            peer.spiffeId() + " is not an admin of this server"));
            case WORKLOAD -> ReservedIds.isReserved(peer.spiffeId())
                    ? Optional.of(Status.PERMISSION_DENIED.withDescription(peer.spiffeId()
                            + " is reserved for Lanyard itself (" + ReservedIds.PREFIX + "*) and cannot call this as a workload"))
                    : Optional.empty();
            case AGENT -> Selectors.isAgent(peer.spiffeId()) ? Optional.empty()
                    : Optional.of(Status.PERMISSION_DENIED.withDescription(peer.spiffeId()
                            + " is not a node agent (" + Selectors.AGENT_PREFIX + "*)"));
            default -> Optional.empty();
        };
    }

    public static final class Builder {
        private final AdminIds admins;
        private final Map<String, Access> services = new HashMap<>();
        private final Map<String, Access> methods = new HashMap<>();

        private Builder(AdminIds admins) {
            this.admins = admins;
        }

        /** Every method of {@code service} not given a rule of its own. */
        public Builder service(ServiceDescriptor service, Access access) {
            return service(service.getName(), access);
        }

        public Builder service(String serviceName, Access access) {
            services.put(serviceName, access);
            return this;
        }

        public Builder method(io.grpc.MethodDescriptor<?, ?> method, Access access) {
            methods.put(method.getFullMethodName(), access);
            return this;
        }

        public AccessPolicy build() {
            return new AccessPolicy(admins, services, methods);
        }
    }
}
