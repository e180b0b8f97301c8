package dev.lanyard.federation;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.AuditText;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.spiffe.SpiffeId;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The foreign trust domains this server federates with: relationships added and removed by admins,
 * each foreign bundle fetched when its refresh hint says (a failed fetch is retried sooner, and the
 * last good bundle stays in use), every bundle change stored and audited.
 */
public final class Federation {

    private static final Logger LOG = LoggerFactory.getLogger(Federation.class);
    /** Never fetch more often than this, whatever a bundle's refresh hint says, nor wait longer. */
    static final Duration MIN_REFRESH = Duration.ofSeconds(1);
    static final Duration MAX_REFRESH = Duration.ofHours(1);

    /** One relationship's state, for listing. */
    public record State(FederationRelationship relationship, Optional<ForeignBundle> bundle, Optional<Instant> fetchedAt,
            String lastError) {
    }

    private static final class Entry {
        final FederationRelationship relationship;
        volatile Optional<ForeignBundle> bundle;
        volatile Optional<Instant> fetchedAt;
        volatile Instant nextFetch;
        volatile String lastError = "";

        Entry(FederationRelationship relationship, Optional<ForeignBundle> bundle, Optional<Instant> fetchedAt,
                Instant nextFetch) {
            this.relationship = relationship;
            this.bundle = bundle;
            this.fetchedAt = fetchedAt;
            this.nextFetch = nextFetch;
        }
    }

    private final String ownTrustDomain;
    private final FederationRepository repository;
    private final BundleFetcher fetcher;
    private final AuditLog audit;
    private final Clock clock;
    private final Runnable changed;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();

    /** @param changed called after the set of foreign bundles changed (the trust bundle is rebuilt) */
    public Federation(String ownTrustDomain, FederationRepository repository, BundleFetcher fetcher, AuditLog audit,
            Clock clock, Runnable changed) {
        this.ownTrustDomain = ownTrustDomain;
        this.repository = repository;
        this.fetcher = fetcher;
        this.audit = audit;
        this.clock = clock;
        this.changed = changed;
        Instant now = clock.instant();
        for (FederationRepository.Stored stored : repository.all()) {
            String td = stored.relationship().trustDomain();
            Optional<ForeignBundle> bundle = stored.bundleJson().map(json -> ForeignBundle.parse(td, json));
            entries.put(td, new Entry(stored.relationship(), bundle, stored.fetchedAt(), now));
        }
    }

    /**
     * Adds or replaces the relationship with {@code trustDomain}, stored in one transaction with
     * {@code record} (its audit record); its first fetch is due at once.
     *
     * @throws Refusal INVALID_ARGUMENT naming what is wrong
     */
    public synchronized State add(String trustDomain, String endpoint, FederationRelationship.Profile profile,
            Optional<String> endpointId, Optional<String> initialBundle, AuditEvent record) throws Refusal {
        checkTrustDomain(trustDomain);
        if (trustDomain.equals(ownTrustDomain)) {
            throw Refusal.invalid(trustDomain + " is this server's own trust domain");
        }
        // Text that fails its check is named by its length only: it may be a secret pasted into the wrong field.
        URI url;
        try {
            url = new URI(endpoint);
        } catch (java.net.URISyntaxException e) {
            throw Refusal.invalid(AuditText.unnamed("bundle_endpoint_url", endpoint) + " is not a URL: "
                    + e.getReason() + " at index " + e.getIndex());
        }
        if (!"https".equals(url.getScheme()) || url.getHost() == null) {
            throw Refusal.invalid(AuditText.unnamed("bundle_endpoint_url", endpoint)
                    + " must be https://host[:port]/path");
        }
        // The URL is stored, listed and named in the audit record: no credential may ride in it.
        if (url.getRawUserInfo() != null) {
            throw Refusal.invalid(AuditText.unnamed("bundle_endpoint_url", endpoint) + " carries a user name or"
                    + " password (user:password@host): a bundle endpoint serves a public document to anyone; give"
                    + " https://host[:port]/path alone");
        }
        if (AuditText.holdsToken(endpoint)) {
            throw Refusal.invalid(AuditText.unnamed("bundle_endpoint_url", endpoint) + " holds a JWT or a join token,"
                    + " which no record may keep; a bundle endpoint serves a public document to anyone, leave it out");
        }
        Optional<SpiffeId> id = Optional.empty();
        Optional<ForeignBundle> bundle = Optional.empty();
        if (profile == FederationRelationship.Profile.HTTPS_SPIFFE) {
            if (endpointId.isEmpty() || initialBundle.isEmpty()) {
                throw Refusal.invalid("https_spiffe needs the endpoint's SPIFFE ID and an initial bundle of "
                        + trustDomain + " (its bundle document, obtained out of band)");
            }
            try {
                id = Optional.of(AuditText.parseSpiffeId("endpoint_spiffe_id", endpointId.get()));
            } catch (IllegalArgumentException e) {
                throw Refusal.invalid(e.getMessage());
            }
            try {
                bundle = Optional.of(ForeignBundle.parse(trustDomain, initialBundle.get()));
            } catch (IllegalArgumentException e) {
                throw Refusal.invalid("initial_bundle: " + e.getMessage());
            }
            if (!id.get().isMemberOf(trustDomain)) {
                throw Refusal.invalid("endpoint SPIFFE ID " + id.get() + " is not in " + trustDomain);
            }
        } else if (endpointId.isPresent()) {
            throw Refusal.invalid("https_web authenticates the endpoint by its host name: give no endpoint SPIFFE ID");
        }
        Instant now = clock.instant();
        // Microseconds, as the store keeps it: a relationship is told from its replacement by it.
        FederationRelationship relationship = new FederationRelationship(trustDomain, url, profile, id,
                now.truncatedTo(ChronoUnit.MICROS));
        Optional<ForeignBundle> initial = bundle;
        audit.recordWith(record, () -> {
            repository.put(relationship, initial.map(ForeignBundle::json), initial.map(ForeignBundle::sequence).orElse(0L),
                    now);
            return null;
        });
        Entry entry = new Entry(relationship, bundle, bundle.map(b -> now), now);
        entries.put(trustDomain, entry);
        changed.run();
        return state(entry);
    }

    /**
     * Ends the relationship with {@code trustDomain}, deleted in one transaction with {@code record}.
     *
     * @throws Refusal NOT_FOUND if there is no relationship with {@code trustDomain}
     */
    public synchronized void remove(String trustDomain, AuditEvent record) throws Refusal {
        checkTrustDomain(trustDomain);
        try {
            audit.recordWith(record, () -> {
                if (!repository.delete(trustDomain)) {
                    throw Refusal.notFound("this server does not federate with " + trustDomain);
                }
                return null;
            });
        } catch (Refusal e) {
            entries.remove(trustDomain); // another replica removed it already: follow the store
            throw e;
        }
        entries.remove(trustDomain);
        changed.run();
    }

    private static void checkTrustDomain(String trustDomain) throws Refusal {
        try {
            SpiffeId.validateTrustDomain(trustDomain);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid(AuditText.unnamed("trust_domain", trustDomain) + " is not a trust domain: "
                    + e.getMessage());
        }
    }

    /**
     * Takes up what other replicas sharing the database changed (the change feed calls it): a
     * relationship added there is followed here from now on, one removed there is dropped, a newer
     * bundle fetched there replaces the one held.
     */
    public synchronized void reload() {
        Instant now = clock.instant();
        boolean changedAny = false;
        Map<String, FederationRepository.Stored> stored = new java.util.HashMap<>();
        repository.all().forEach(s -> stored.put(s.relationship().trustDomain(), s));
        for (String td : List.copyOf(entries.keySet())) {
            if (!stored.containsKey(td)) {
                entries.remove(td);
                changedAny = true;
            }
        }
        for (FederationRepository.Stored s : stored.values()) {
            String td = s.relationship().trustDomain();
            Entry entry = entries.get(td);
            Optional<ForeignBundle> bundle = s.bundleJson().map(json -> ForeignBundle.parse(td, json));
            if (entry == null || !entry.relationship.equals(s.relationship())) { // added, or replaced
                entries.put(td, new Entry(s.relationship(), bundle, s.fetchedAt(), now));
                changedAny = true;
            } else if (bundle.isPresent() && !bundle.map(ForeignBundle::json).equals(entry.bundle.map(ForeignBundle::json))
                    && bundle.get().sequence() >= entry.bundle.map(ForeignBundle::sequence).orElse(0L)) {
                entry.bundle = bundle;
                entry.fetchedAt = s.fetchedAt();
                changedAny = true;
            }
        }
        if (changedAny) {
            changed.run();
        }
    }

    public List<State> list() {
        return entries.values().stream().map(Federation::state)
                .sorted(Comparator.comparing(s -> s.relationship().trustDomain())).toList();
    }

    /** The foreign bundles held now, by trust domain. */
    public List<ForeignBundle> bundles() {
        List<ForeignBundle> bundles = new ArrayList<>();
        entries.values().forEach(e -> e.bundle.ifPresent(bundles::add));
        bundles.sort(Comparator.comparing(ForeignBundle::trustDomain));
        return bundles;
    }

    /** Fetches every bundle that is due (the scheduler calls it every second). */
    public void refreshDue() {
        Instant now = clock.instant();
        for (Entry entry : entries.values()) {
            if (!now.isBefore(entry.nextFetch)) {
                refresh(entry, now);
            }
        }
    }

    private void refresh(Entry entry, Instant now) {
        String td = entry.relationship.trustDomain();
        Duration hint = entry.bundle.map(ForeignBundle::refreshHint).orElse(MIN_REFRESH.multipliedBy(5));
        try {
            ForeignBundle fetched = fetcher.fetch(entry.relationship, entry.bundle);
            entry.nextFetch = now.plus(clamp(fetched.refreshHint()));
            entry.lastError = "";
            if (entries.get(td) != entry) {
                return; // removed or replaced meanwhile
            }
            boolean same = entry.bundle.map(b -> b.json().equals(fetched.json())).orElse(false);
            if (same) {
                return;
            }
            if (entry.bundle.isPresent() && fetched.sequence() < entry.bundle.get().sequence()) {
                throw new IOException("the endpoint served sequence " + fetched.sequence() + ", older than the "
                        + entry.bundle.get().sequence() + " held");
            }
            // Stored with its record, or not at all (then the last good bundle stays, as for a failed fetch);
            // not over the bundle of a relationship replaced on another replica, nor over a newer bundle.
            Optional<Boolean> stored = audit.recordIfChanged(result -> new AuditEvent(now, "lanyard",
                    "federation.bundle", td, AuditEvent.Outcome.SUCCESS, "sequence " + fetched.sequence() + ", "
                            + fetched.x509Authorities().size() + " X.509 and " + fetched.jwtAuthorities().size()
                            + " JWT authorities from " + entry.relationship.endpoint()),
                    () -> repository.updateBundle(entry.relationship, fetched.json(), fetched.sequence(), now)
                            ? Optional.of(true) : Optional.empty());
            if (stored.isEmpty()) {
                LOG.info("the bundle of {} fetched from {} is dropped: the relationship was replaced or a newer"
                        + " bundle stored on another replica; taking up the store", td, entry.relationship.endpoint());
                reload();
                return;
            }
            entry.bundle = Optional.of(fetched);
            entry.fetchedAt = Optional.of(now);
            LOG.info("federated bundle of {} updated to sequence {}", td, fetched.sequence());
            changed.run();
        } catch (IOException | RuntimeException e) {
            // Keep the last good bundle; retry within a few seconds, at most at the hint.
            entry.nextFetch = now.plus(clamp(hint.compareTo(Duration.ofSeconds(5)) < 0 ? hint : Duration.ofSeconds(5)));
            String error = e.getMessage() == null ? e.toString() : e.getMessage();
            String last = entry.lastError;
            entry.lastError = error; // shown by ListFederations even if the record below cannot be stored
            if (!error.equals(last)) {
                LOG.warn("fetching the bundle of {} from {} failed; keeping the last good one: {}", td,
                        entry.relationship.endpoint(), error);
                audit.record(new AuditEvent(now, "lanyard", "federation.bundle", td, AuditEvent.Outcome.FAILED,
                        "fetch from " + entry.relationship.endpoint() + " failed, the last good bundle stays: " + error));
            }
        }
    }

    private static Duration clamp(Duration hint) {
        return hint.compareTo(MIN_REFRESH) < 0 ? MIN_REFRESH : hint.compareTo(MAX_REFRESH) > 0 ? MAX_REFRESH : hint;
    }

    private static State state(Entry entry) {
        return new State(entry.relationship, entry.bundle, entry.fetchedAt, entry.lastError);
    }
}
