package dev.lanyard.rpc;

import dev.lanyard.registration.AdminIds;
import dev.lanyard.registration.ReservedIds;
import dev.lanyard.registration.Selectors;
import dev.lanyard.spiffe.SpiffeId;
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
import java.util.function.Predicate;

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
    private final Predicate<SpiffeId> registered;
    private final Predicate<String> workloadCertificate;
    private final Map<String, Access> services;
    private final Map<String, Access> methods;

    private AccessPolicy(AdminIds admins, Predicate<SpiffeId> registered, Predicate<String> workloadCertificate,
            Map<String, Access> services, Map<String, Access> methods) {
        this.admins = admins;
        this.registered = registered;
        this.workloadCertificate = workloadCertificate;
        this.services = Map.copyOf(services);
        this.methods = Map.copyOf(methods);
    }

    /**
     * @param registered whether an ID has a workload registration (read at each admin call, which runs
     *     on a pool thread): the admin IDs are each replica's configuration, the registrations are shared,
     *     so a replica whose admin.spiffe-ids lack an ID may have registered it as a workload
     * @param workloadCertificate whether the certificate of a serial (hex) was issued through a workload
     *     path (read at each admin call too): such a certificate outlives the registration it was issued on
     */
    public static Builder builder(AdminIds admins, Predicate<SpiffeId> registered,
            Predicate<String> workloadCertificate) {
        return new Builder(admins, registered, workloadCertificate);
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
            case ADMIN -> adminRefusal(peer);
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

    /**
     * An admin ID that is also registered as a workload is no admin: whoever attests as that workload
     * would hold an admin certificate. One replica refuses to register its admin IDs, but another whose
     * admin.spiffe-ids lack the ID (a rolling configuration change) does not know it. Nor is a certificate
     * issued as a workload's an admin's, once that registration is deleted or the ID named an admin: an
     * admin's rights come with a certificate issued as an admin credential, not with its ID alone.
     */
    private Optional<Status> adminRefusal(AuthenticatedPeer peer) {
        SpiffeId caller = peer.spiffeId();
        if (!admins.contains(caller)) {
            return Optional.of(Status.PERMISSION_DENIED.withDescription(caller + " is not an admin of this server"));
        }
        boolean workload;
        boolean workloadIssued;
        try {
            workload = registered.test(caller);
            workloadIssued = !workload && workloadCertificate.test(peer.serialHex());
        } catch (RuntimeException e) {
            return Optional.of(Status.UNAVAILABLE.withDescription("cannot check in the database that " + caller
                    + " is not also a registered workload; retry"));
        }
        if (workload) {
            return Optional.of(Status.PERMISSION_DENIED.withDescription(caller + " is in admin.spiffe-ids but"
                    + " also registered as a workload (registered through a replica or a configuration that did not name"
                    + " it an admin): it is no admin until that registration is deleted"));
        }
        return workloadIssued ? Optional.of(Status.PERMISSION_DENIED.withDescription("the certificate of " + caller
                + " (serial " + peer.serialHex() + ") was issued to a workload, not as an admin credential: it is no"
                + " admin's, even with the ID in admin.spiffe-ids; use an admin certificate")) : Optional.empty();
    }

    public static final class Builder {
        private final AdminIds admins;
        private final Predicate<SpiffeId> registered;
        private final Predicate<String> workloadCertificate;
        private final Map<String, Access> services = new HashMap<>();
        private final Map<String, Access> methods = new HashMap<>();

        private Builder(AdminIds admins, Predicate<SpiffeId> registered, Predicate<String> workloadCertificate) {
            this.admins = admins;
            this.registered = registered;
            this.workloadCertificate = workloadCertificate;
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
            return new AccessPolicy(admins, registered, workloadCertificate, services, methods);
        }
    }
}
