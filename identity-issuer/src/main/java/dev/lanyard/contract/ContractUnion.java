package dev.lanyard.contract;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The contracts in force: the union of the latest set of every source. Immutable.
 *
 * <p>A service is identified by its full name. When two sources declare the same service (a set
 * compiled with its imports carries other teams' services too), the most recently published
 * declaration is in force. An audience claimed by two different services is a conflict: a
 * publish that would cause one is refused; when loading stored sets, the earlier claimant keeps
 * the audience and the conflict is reported.
 */
record ContractUnion(long version, Map<String, Published> sources, Map<String, ServiceContract> byAudience,
        Map<String, Set<String>> declaredByAudience, List<String> conflicts, List<String> replacements) {

    /** One source's parsed latest set. {@code digest} identifies the exact bytes. */
    record Published(String source, long version, String digest, ContractSet contracts) {
    }

    private record Claim(Published from, ServiceContract contract) {
    }

    static final ContractUnion EMPTY = of(List.of());

    static ContractUnion of(List<Published> published) {
        List<Published> ordered = new ArrayList<>(published);
        ordered.sort(Comparator.comparingLong(Published::version));

        Map<String, Claim> byService = new LinkedHashMap<>();
        List<String> replacements = new ArrayList<>();
        for (Published set : ordered) {
            for (ServiceContract service : set.contracts().services()) {
                Claim previous = byService.put(service.serviceName(), new Claim(set, service));
                if (previous != null && !previous.from().source().equals(set.source())
                        && !previous.contract().equals(service)) {
                    replacements.add("service " + service.serviceName() + " from source "
                            + ContractNames.quote(set.source()) + " replaces its different declaration from source "
                            + ContractNames.quote(previous.from().source()));
                }
            }
        }

        List<Claim> claims = new ArrayList<>(byService.values());
        claims.sort(Comparator.comparingLong(claim -> claim.from().version()));
        Map<String, Claim> byAudience = new HashMap<>();
        List<String> conflicts = new ArrayList<>();
        for (Claim claim : claims) {
            String audience = claim.contract().audience();
            Claim owner = byAudience.putIfAbsent(audience, claim);
            if (owner != null) {
                conflicts.add("audience " + ContractNames.quote(audience) + " is claimed by service "
                        + owner.contract().serviceName() + " (source " + ContractNames.quote(owner.from().source())
                        + ") and by service " + claim.contract().serviceName() + " (source "
                        + ContractNames.quote(claim.from().source()) + ")");
            }
        }

        Map<String, ServiceContract> contracts = new TreeMap<>();
        Map<String, Set<String>> declared = new HashMap<>();
        byAudience.forEach((audience, claim) -> {
            contracts.put(audience, claim.contract());
            declared.put(audience, claim.contract().declaredScopes());
        });
        Map<String, Published> sources = new TreeMap<>();
        ordered.forEach(set -> sources.put(set.source(), set));
        long version = ordered.isEmpty() ? 0 : ordered.get(ordered.size() - 1).version();
        return new ContractUnion(version, Collections.unmodifiableMap(sources),
                Collections.unmodifiableMap(contracts), Map.copyOf(declared), List.copyOf(conflicts),
                List.copyOf(replacements));
    }

    /** This union with {@code set} as the newest version of its source. */
    ContractUnion with(Published set) {
        Map<String, Published> next = new HashMap<>(sources);
        next.put(set.source(), set);
        return of(List.copyOf(next.values()));
    }
}
