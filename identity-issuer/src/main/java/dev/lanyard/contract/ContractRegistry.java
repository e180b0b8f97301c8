package dev.lanyard.contract;

import dev.lanyard.contract.ContractUnion.Published;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Audience → method → required scopes, from the descriptor sets published by named sources.
 *
 * <p>The registry is the union of the latest set of every source (see {@link ContractUnion} for
 * how overlaps resolve). Each publish validates the set and the union it would make, persists a
 * new version, and swaps in a new immutable snapshot; readers never lock and never see a half
 * applied publish. An invalid set changes nothing.
 */
public final class ContractRegistry {

    private static final Logger log = LoggerFactory.getLogger(ContractRegistry.class);
    private static final Pattern SOURCE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}");
    /** What a source name is, in words. */
    public static final String SOURCE_RULE = "use 1 to 200 letters, digits, '.', '_', ':', '/', '@' or '-',"
            + " starting with a letter or digit";
    private static final List<String> FILE_SUFFIXES = List.of(".pb", ".desc", ".binpb");

    private final ContractRepository repository;
    private final Clock clock;
    private final Object publishLock = new Object();
    private volatile ContractUnion current = ContractUnion.EMPTY;

    public ContractRegistry(ContractRepository repository, Clock clock) {
        this.repository = Objects.requireNonNull(repository, "repository");
        this.clock = Objects.requireNonNull(clock, "clock");
        refresh();
    }

    /** Reads the contracts a serialized FileDescriptorSet declares, without publishing them. */
    public static ContractSet parse(byte[] descriptorSetBytes) {
        return ContractExtractor.extract(DescriptorSets.build(descriptorSetBytes));
    }

    /** Stores a new version: runs {@code write} and returns its version, with what must be stored alongside. */
    @FunctionalInterface
    public interface VersionStore {
        long store(LongSupplier write);
    }

    /**
     * Validates {@code descriptorSet} and stores it as the newest version of {@code source}.
     * Publishing the bytes the source already has stores nothing and reports {@code changed=false}.
     *
     * @throws InvalidContractException naming every problem; nothing changed then
     */
    public PublishResult publish(String source, byte[] descriptorSet) {
        return publish(source, descriptorSet, LongSupplier::getAsLong);
    }

    /**
     * As {@link #publish(String, byte[])}, the new version written through {@code durably} (which
     * stores an audit record in the same transaction, say); it is in force here only once that returned.
     */
    public PublishResult publish(String source, byte[] descriptorSet, VersionStore durably) {
        checkSource(source);
        ContractSet contracts = parse(descriptorSet);
        String digest = digest(descriptorSet);
        synchronized (publishLock) {
            // Another replica may have published since we last looked.
            ContractUnion base = load(repository.latestPerSource());
            Published existing = base.sources().get(source);
            if (existing != null && existing.digest().equals(digest)) {
                current = base;
                return new PublishResult(source, base.version(), false, contracts.services(), contracts.warnings());
            }
            checkVerifiable(contracts); // what is stored already may keep older names; a new version may not
            ContractUnion candidate = base.with(new Published(source, Long.MAX_VALUE, digest, contracts));
            if (!candidate.conflicts().isEmpty()) {
                throw new InvalidContractException(candidate.conflicts());
            }
            long version = durably.store(() -> repository.saveVersion(source, descriptorSet, clock.instant()));
            current = base.with(new Published(source, version, digest, contracts));
            // Read again: another replica may have stored a version of another source after base was read
            // and before ours (the change feed would not see it: it compares the highest version only).
            current = load(repository.latestPerSource());
            List<String> warnings = new ArrayList<>(contracts.warnings());
            warnings.addAll(candidate.replacements());
            log.info("published contracts from source {} as version {}: audiences {}", source, version,
                    contracts.services().stream().map(ServiceContract::audience).toList());
            return new PublishResult(source, version, true, contracts.services(), warnings);
        }
    }

    /**
     * Publishes every {@code *.pb}, {@code *.desc} and {@code *.binpb} file in {@code dir}, each as
     * the source named by its file name. All files are validated together first: if any is
     * invalid, or two conflict, nothing is published.
     *
     * @throws InvalidContractException naming the files and their problems
     */
    public void loadDirectory(Path dir) throws IOException {
        loadDirectory(dir, file -> LongSupplier::getAsLong);
    }

    /**
     * As {@link #loadDirectory(Path)}, each file's new version written through {@code durablyFor} of the
     * file's name (which stores its audit record in the same transaction, say); a file whose bytes are
     * stored already writes nothing.
     */
    public void loadDirectory(Path dir, java.util.function.Function<String, VersionStore> durablyFor)
            throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("contracts directory " + dir + " does not exist or is not a directory");
        }
        Map<String, byte[]> files = new TreeMap<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (Files.isRegularFile(entry) && FILE_SUFFIXES.stream().anyMatch(name::endsWith)) {
                    files.put(name, Files.readAllBytes(entry));
                }
            }
        }
        List<String> problems = new ArrayList<>();
        ContractUnion candidate = current;
        long order = Long.MAX_VALUE - files.size();
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            try {
                checkSource(file.getKey());
                ContractSet contracts = parse(file.getValue());
                Published stored = current.sources().get(file.getKey());
                if (stored == null || !stored.digest().equals(digest(file.getValue()))) {
                    checkVerifiable(contracts);
                }
                candidate = candidate.with(new Published(file.getKey(), order++, digest(file.getValue()), contracts));
            } catch (InvalidContractException | IllegalArgumentException e) {
                problems.add("contracts file " + ContractNames.quote(file.getKey()) + ": " + e.getMessage());
            }
        }
        problems.addAll(candidate.conflicts());
        if (!problems.isEmpty()) {
            throw new InvalidContractException(problems);
        }
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            publish(file.getKey(), file.getValue(), durablyFor.apply(file.getKey()));
        }
    }

    /**
     * Re-reads the repository, to pick up what other replicas published. A stored set that no
     * longer validates, or that conflicts with an earlier one, is left out (its audience then
     * accepts no token) and logged.
     */
    public void refresh() {
        synchronized (publishLock) {
            current = load(repository.latestPerSource());
        }
    }

    /** Re-reads the repository if another replica published since (one small query when nothing did). */
    public void refreshIfChanged() {
        if (repository.latestVersion() != current.version()) {
            refresh();
        }
    }

    /** The contract of the service with this audience. */
    public Optional<ServiceContract> audience(String audience) {
        return Optional.ofNullable(current.byAudience().get(audience));
    }

    /** The highest stored version, 0 before anything is published. */
    public long version() {
        return current.version();
    }

    /** Every contract in force, ordered by audience. */
    public List<ServiceContract> all() {
        return List.copyOf(current.byAudience().values());
    }

    /**
     * Whether a token for {@code audience} may carry {@code scopes}: the audience must be known,
     * and every scope must be required by some method of it. Says nothing about whether the caller
     * is granted them; that is the grants policy's job.
     */
    public TokenScopeCheck check(String audience, Collection<String> scopes) {
        ContractUnion union = current;
        if (audience == null || audience.isEmpty()) {
            return TokenScopeCheck.refused(TokenScopeCheck.Outcome.NO_AUDIENCE, "no audience requested");
        }
        Set<String> declared = union.declaredByAudience().get(audience);
        if (declared == null) {
            return TokenScopeCheck.refused(TokenScopeCheck.Outcome.UNKNOWN_AUDIENCE,
                    "unknown audience " + ContractNames.quote(audience) + ": no published contract declares it");
        }
        if (scopes.isEmpty()) {
            return TokenScopeCheck.refused(TokenScopeCheck.Outcome.NO_SCOPES,
                    "no scopes requested for audience " + ContractNames.quote(audience));
        }
        Set<String> undeclared = new LinkedHashSet<>();
        for (String scope : scopes) {
            if (!declared.contains(scope)) {
                undeclared.add(scope);
            }
        }
        if (undeclared.isEmpty()) {
            return TokenScopeCheck.allowed();
        }
        String names = undeclared.stream().map(ContractNames::quote).collect(Collectors.joining(", "));
        return new TokenScopeCheck(TokenScopeCheck.Outcome.UNDECLARED_SCOPES,
                (undeclared.size() == 1 ? "scope " : "scopes ") + names + " not declared by any method of audience "
                        + ContractNames.quote(audience),
                undeclared);
    }

    private ContractUnion load(List<StoredContractSet> stored) {
        ContractUnion previous = current;
        List<Published> published = new ArrayList<>();
        for (StoredContractSet set : stored) {
            Published known = previous.sources().get(set.source());
            if (known != null && known.version() == set.version()) {
                published.add(known);
                continue;
            }
            byte[] bytes = set.descriptorSet();
            try {
                ContractSet contracts = parse(bytes);
                long unverifiable = ContractNames.unverifiableCount(contracts.services().stream()
                        .flatMap(service -> service.declaredScopes().stream()).toList());
                if (unverifiable > 0) {
                    log.warn("stored contracts of source {} version {} hold {} scope name(s) that client verifiers"
                            + " refuse (stored before the server refused them): tokens carrying them fail"
                            + " verification; publish the contracts again with names like payments.charge",
                            set.source(), set.version(), unverifiable);
                }
                published.add(new Published(set.source(), set.version(), digest(bytes), contracts));
            } catch (InvalidContractException e) {
                log.error("stored contracts of source {} version {} are not valid and are left out: {}",
                        set.source(), set.version(), e.getMessage());
            }
        }
        ContractUnion union = ContractUnion.of(published);
        union.conflicts().forEach(conflict -> log.error("stored contracts conflict, the earlier claim wins: {}", conflict));
        return union;
    }

    /** Refuses required scopes no client verifier accepts (see {@link ContractNames#unverifiableScope}). */
    private static void checkVerifiable(ContractSet contracts) {
        List<String> problems = new ArrayList<>();
        for (ServiceContract service : contracts.services()) {
            service.requiredScopes().forEach((method, scopes) -> scopes.forEach(scope -> ContractNames
                    .unverifiableScope("method " + method + ": a required_scopes entry", scope)
                    .ifPresent(problems::add)));
        }
        if (!problems.isEmpty()) {
            throw new InvalidContractException(problems);
        }
    }

    /** Whether {@code source} is a well-formed source name. */
    public static boolean isSource(String source) {
        return source != null && SOURCE.matcher(source).matches();
    }

    private static void checkSource(String source) {
        if (!isSource(source)) {
            throw new InvalidContractException("source " + (source == null ? "is missing" : ContractNames.quote(source)
                    + " is not valid") + ": " + SOURCE_RULE);
        }
    }

    private static String digest(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }
}
