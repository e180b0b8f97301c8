package dev.lanyard.policy;

import dev.lanyard.contract.ContractNames;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.v1.Grant;
import dev.lanyard.v1.Policy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Which workloads may hold which scopes on which audience. Immutable; validated when built, so a
 * bad policy is refused as a whole. Nothing is granted by default: a caller holds the union of
 * the scopes of the grants that name it for the audience.
 */
public final class GrantsPolicy {

    private static final GrantsPolicy EMPTY = new GrantsPolicy(Policy.getDefaultInstance(), Map.of());

    private final Policy source;
    private final Map<String, List<CompiledGrant>> byAudience;

    private record CompiledGrant(List<IdPattern> ids, Set<String> scopes) {
        boolean matches(SpiffeId caller) {
            return ids.stream().anyMatch(id -> id.matches(caller));
        }
    }

    private GrantsPolicy(Policy source, Map<String, List<CompiledGrant>> byAudience) {
        this.source = source;
        this.byAudience = byAudience;
    }

    /** Version 0, no grants: what is in force before any policy is applied. */
    public static GrantsPolicy empty() {
        return EMPTY;
    }

    /**
     * Validates and compiles {@code policy}.
     *
     * @throws InvalidPolicyException naming each bad grant by index and the bad value
     */
    public static GrantsPolicy from(Policy policy) {
        Objects.requireNonNull(policy, "policy");
        List<String> problems = new ArrayList<>();
        if (policy.getVersion() <= 0) {
            problems.add("policy version must be positive, got " + policy.getVersion());
        }
        Map<String, List<CompiledGrant>> byAudience = new HashMap<>();
        for (int i = 0; i < policy.getGrantsCount(); i++) {
            Grant grant = policy.getGrants(i);
            String where = "grant " + i;
            List<IdPattern> ids = new ArrayList<>();
            if (grant.getSpiffeIdsCount() == 0) {
                problems.add(where + " names no spiffe_ids");
            }
            for (String id : grant.getSpiffeIdsList()) {
                try {
                    ids.add(IdPattern.parse(id));
                } catch (IllegalArgumentException e) {
                    problems.add(where + ": spiffe_ids entry " + ContractNames.quote(id) + " is not valid: "
                            + e.getMessage());
                }
            }
            ContractNames.audienceProblem(grant.getAudience()).ifPresent(p -> problems.add(where + ": " + p));
            if (grant.getScopesCount() == 0) {
                problems.add(where + " names no scopes");
            }
            for (String scope : grant.getScopesList()) {
                ContractNames.scopeProblem(scope).ifPresent(p -> problems.add(where + ": " + p));
            }
            byAudience.computeIfAbsent(grant.getAudience(), a -> new ArrayList<>())
                    .add(new CompiledGrant(List.copyOf(ids), Set.copyOf(grant.getScopesList())));
        }
        if (!problems.isEmpty()) {
            throw new InvalidPolicyException(problems);
        }
        Map<String, List<CompiledGrant>> frozen = new HashMap<>();
        byAudience.forEach((audience, grants) -> frozen.put(audience, List.copyOf(grants)));
        return new GrantsPolicy(policy, Map.copyOf(frozen));
    }

    public long version() {
        return source.getVersion();
    }

    /** The policy as applied, for GetPolicy and for writing back out. */
    public Policy toProto() {
        return source;
    }

    /** Every scope {@code caller} is granted on {@code audience}, sorted. */
    public Set<String> grantedScopes(SpiffeId caller, String audience) {
        Objects.requireNonNull(caller, "caller");
        Set<String> granted = new java.util.TreeSet<>();
        for (CompiledGrant grant : byAudience.getOrDefault(audience, List.of())) {
            if (grant.matches(caller)) {
                granted.addAll(grant.scopes());
            }
        }
        return Collections.unmodifiableSet(granted);
    }

    /**
     * The requested scopes {@code caller} is not granted on {@code audience}, in request order;
     * empty when every one is granted.
     */
    public Set<String> missingScopes(SpiffeId caller, String audience, Collection<String> requested) {
        Objects.requireNonNull(caller, "caller");
        Set<String> granted = new HashSet<>();
        for (CompiledGrant grant : byAudience.getOrDefault(audience, List.of())) {
            if (grant.matches(caller)) {
                granted.addAll(grant.scopes());
            }
        }
        Set<String> missing = new LinkedHashSet<>();
        for (String scope : requested) {
            if (!granted.contains(scope)) {
                missing.add(scope);
            }
        }
        return Collections.unmodifiableSet(missing);
    }
}
