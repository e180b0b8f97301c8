package dev.lanyard.token;

import dev.lanyard.rotation.RotationStep;
import dev.lanyard.rotation.StepLog;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * One rotating key set per JWS algorithm in use: the primary (token.algorithm, for contract
 * audiences), those the grants policy's external audiences ask for (RS256 for AWS STS), and any
 * algorithm that still has keys stored (so they keep rotating out). The JWKS carries them all.
 */
public final class JwtKeySets {

    /** AWS documents at most 100 keys in an OIDC provider's JWKS. */
    public static final int MAX_PUBLISHED_KEYS = 100;

    /** A rotation step of one algorithm's set. */
    public record Step(SigningAlgorithm algorithm, RotationStep step) {
    }

    private final JwtSigningKeys primary;
    private final Function<SigningAlgorithm, JwtSigningKeys> create;
    private final Map<SigningAlgorithm, JwtSigningKeys> sets = new ConcurrentHashMap<>();

    /**
     * @param create makes the (empty, not yet ticked) set of another algorithm over the same store
     * @param stored the algorithms that have keys in the store now
     */
    public JwtKeySets(JwtSigningKeys primary, Function<SigningAlgorithm, JwtSigningKeys> create,
            Set<SigningAlgorithm> stored) {
        this.primary = primary;
        this.create = create;
        sets.put(primary.algorithm(), primary);
        for (SigningAlgorithm algorithm : stored) {
            sets.computeIfAbsent(algorithm, create);
        }
    }

    public JwtSigningKeys primary() {
        return primary;
    }

    /**
     * The set of {@code algorithm}, made (and its first key made active) if it was not in use: a
     * policy that names a new algorithm can be served at once. Its steps are recorded in {@code log}.
     */
    public synchronized JwtSigningKeys use(SigningAlgorithm algorithm, StepLog log, List<Step> steps) {
        JwtSigningKeys set = sets.get(algorithm);
        if (set == null) {
            set = create.apply(algorithm);
            sets.put(algorithm, set);
            for (RotationStep step : set.tick(log)) {
                steps.add(new Step(algorithm, step));
            }
        }
        return set;
    }

    /** The set of {@code algorithm} if in use. */
    public java.util.Optional<JwtSigningKeys> get(SigningAlgorithm algorithm) {
        return java.util.Optional.ofNullable(sets.get(algorithm));
    }

    /** Every due step of every set, each recorded in {@code log}. */
    public List<Step> tick(StepLog log) {
        List<Step> steps = new ArrayList<>();
        for (JwtSigningKeys set : sets.values()) {
            for (RotationStep step : set.tick(log)) {
                steps.add(new Step(set.algorithm(), step));
            }
        }
        return steps;
    }

    public void refresh() {
        sets.values().forEach(JwtSigningKeys::refresh);
    }

    /** The algorithms in use, sorted. */
    public Set<SigningAlgorithm> algorithms() {
        return new TreeSet<>(sets.keySet());
    }

    /** Every published key of every algorithm, oldest first; never more than {@link #MAX_PUBLISHED_KEYS}. */
    public List<SigningKey> published() {
        List<SigningKey> all = new ArrayList<>();
        sets.values().forEach(set -> all.addAll(set.published()));
        all.sort(Comparator.comparing(SigningKey::createdAt).thenComparing(SigningKey::kid));
        if (all.size() > MAX_PUBLISHED_KEYS) {
            // Cannot happen with the rotation rules (at most three keys per algorithm); refuse loudly.
            throw new IllegalStateException(all.size() + " JWT keys would be published, more than "
                    + MAX_PUBLISHED_KEYS);
        }
        return all;
    }
}
