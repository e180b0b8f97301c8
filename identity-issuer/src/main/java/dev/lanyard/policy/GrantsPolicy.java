package dev.lanyard.policy;

import dev.lanyard.contract.ContractNames;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.v1.ExternalAudience;
import dev.lanyard.v1.Grant;
import dev.lanyard.v1.Policy;
import java.util.ArrayList;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Which workloads may hold which scopes on which audience. Immutable; validated when built, so a
 * bad policy is refused as a whole. Nothing is granted by default: a caller holds the union of
 * the scopes of the grants that name it for the audience.
 */
public final class GrantsPolicy {

    private static final GrantsPolicy EMPTY = new GrantsPolicy(Policy.getDefaultInstance(), Map.of(), Map.of());
    /** What an external audience may be signed with: RS256 (AWS STS accepts only RSA) or ES256. */
    private static final Set<SigningAlgorithm> EXTERNAL_ALGORITHMS = Set.of(SigningAlgorithm.RS256, SigningAlgorithm.ES256);

    private final Policy source;
    private final Map<String, List<CompiledGrant>> byAudience;
    private final Map<String, External> externals;

    /** An audience outside the contracts: how its tokens are signed, how long they live, who may get one. */
    public record External(String audience, SigningAlgorithm algorithm, Duration maxTtl, List<IdPattern> ids) {
        public boolean allows(SpiffeId caller) {
            return ids.stream().anyMatch(id -> id.matches(caller));
        }
    }

    private record CompiledGrant(List<IdPattern> ids, Set<String> scopes) {
        boolean matches(SpiffeId caller) {
            return ids.stream().anyMatch(id -> id.matches(caller));
        }
    }

    private GrantsPolicy(Policy source, Map<String, List<CompiledGrant>> byAudience, Map<String, External> externals) {
        this.source = source;
        this.byAudience = byAudience;
        this.externals = externals;
    }

    /** Version 0, no grants: what is in force before any policy is applied. */
    public static GrantsPolicy empty() {
        return EMPTY;
    }

    /**
     * The scopes of {@code policy} that no client verifier accepts, each named by its field and length
     * (see {@link ContractNames#unverifiableScope}): a new policy must have none, while a stored one that
     * has some still loads.
     */
    public static List<String> unverifiableScopes(Policy policy) {
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < policy.getGrantsCount(); i++) {
            List<String> scopes = policy.getGrants(i).getScopesList();
            for (int j = 0; j < scopes.size(); j++) {
                ContractNames.unverifiableScope("grants[" + i + "].scopes[" + j + "]", scopes.get(j))
                        .ifPresent(problems::add);
            }
        }
        return problems;
    }

    /**
     * Validates and compiles a new {@code policy} (applied over gRPC or read from a changed policy file):
     * as {@link #from}, and every scope must be one each client verifier accepts. Only a policy stored
     * before that rule goes through {@link #from} alone, so its grants stay in force.
     *
     * @throws InvalidPolicyException naming every problem; a bad scope by its field and length only
     */
    public static GrantsPolicy fromNew(Policy policy) {
        GrantsPolicy compiled = from(policy);
        List<String> unverifiable = unverifiableScopes(policy);
        if (!unverifiable.isEmpty()) {
            throw new InvalidPolicyException(unverifiable);
        }
        return compiled;
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
        Map<String, External> externals = new HashMap<>();
        for (int i = 0; i < policy.getExternalAudiencesCount(); i++) {
            compileExternal(i, policy.getExternalAudiences(i), byAudience.keySet(), externals, problems);
        }
        if (!problems.isEmpty()) {
            throw new InvalidPolicyException(problems);
        }
        Map<String, List<CompiledGrant>> frozen = new HashMap<>();
        byAudience.forEach((audience, grants) -> frozen.put(audience, List.copyOf(grants)));
        return new GrantsPolicy(policy, Map.copyOf(frozen), Map.copyOf(externals));
    }

    private static void compileExternal(int index, ExternalAudience external, Set<String> grantAudiences,
            Map<String, External> externals, List<String> problems) {
        String where = "external_audiences " + index;
        String audience = external.getAudience();
        ContractNames.audienceProblem(audience).ifPresent(p -> problems.add(where + ": " + p));
        if (externals.containsKey(audience)) {
            problems.add(where + ": audience " + ContractNames.quote(audience) + " is declared twice");
        }
        if (grantAudiences.contains(audience)) {
            problems.add(where + ": audience " + ContractNames.quote(audience)
                    + " is external, so grants (which give contract scopes) cannot name it");
        }
        SigningAlgorithm algorithm = null;
        try {
            algorithm = SigningAlgorithm.valueOf(external.getAlgorithm());
        } catch (IllegalArgumentException e) {
            // reported below
        }
        if (algorithm == null || !EXTERNAL_ALGORITHMS.contains(algorithm)) {
            problems.add(where + ": algorithm " + ContractNames.quote(external.getAlgorithm())
                    + " is not one of RS256, ES256");
        }
        Duration maxTtl = Duration.ofSeconds(external.getMaxTtl().getSeconds(), external.getMaxTtl().getNanos());
        if (!external.hasMaxTtl() || maxTtl.isNegative() || maxTtl.isZero()) {
            problems.add(where + ": max_ttl must be set and positive");
        }
        List<IdPattern> ids = new ArrayList<>();
        if (external.getSpiffeIdsCount() == 0) {
            problems.add(where + " names no spiffe_ids");
        }
        for (String id : external.getSpiffeIdsList()) {
            try {
                ids.add(IdPattern.parse(id));
            } catch (IllegalArgumentException e) {
                problems.add(where + ": spiffe_ids entry " + ContractNames.quote(id) + " is not valid: " + e.getMessage());
            }
        }
        externals.put(audience, new External(audience, algorithm, maxTtl, List.copyOf(ids)));
    }

    /** The external audience named {@code audience}, if the policy declares one. */
    public Optional<External> external(String audience) {
        return Optional.ofNullable(externals.get(audience));
    }

    /** The algorithms external audiences are signed with. */
    public Set<SigningAlgorithm> externalAlgorithms() {
        Set<SigningAlgorithm> algorithms = new java.util.TreeSet<>();
        externals.values().forEach(e -> algorithms.add(e.algorithm()));
        return algorithms;
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
