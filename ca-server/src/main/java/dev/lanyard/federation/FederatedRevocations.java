package dev.lanyard.federation;

import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.revocation.RevocationDocument;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.revocation.RevocationRepository;
import dev.lanyard.revocation.RevocationTarget;
import dev.lanyard.spiffe.SpiffeId;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows each federated Lanyard's revocations: its {@code /revocations} document, beside its bundle
 * endpoint and fetched over the same authenticated channel, is polled (a conditional GET, so an
 * unchanged one costs a 304) and what it lists is written to the local revocation log tagged with its
 * trust domain, from where the watch stream pushes it to local verifiers. An identity revocation is
 * taken only for an identity of that trust domain; a serial or token id this server issued never.
 */
public final class FederatedRevocations {

    private static final Logger LOG = LoggerFactory.getLogger(FederatedRevocations.class);
    /** A peer without the document (not a Lanyard, or an older one) is asked again this rarely. */
    static final Duration ABSENT_RETRY = Duration.ofMinutes(5);

    /** What is followed of one relationship; a replaced relationship starts afresh. */
    private static final class Follow {
        final FederationRelationship relationship;
        volatile Optional<String> etag = Optional.empty();
        volatile String lastError = "";
        volatile Instant next = Instant.MIN;

        Follow(FederationRelationship relationship) {
            this.relationship = relationship;
        }
    }

    private final Federation federation;
    private final BundleFetcher fetcher;
    private final RevocationRepository repository;
    private final RevocationRegistry registry;
    private final AuditLog audit;
    private final Clock clock;
    private final Duration interval;
    private final Duration maxLifetime;
    private final int maxEntries;
    private final Map<String, Follow> follows = new ConcurrentHashMap<>();

    /**
     * @param interval    how often each peer's document is asked for
     * @param maxLifetime the longest a peer's certificate or token may still live: a revocation of one
     *                    is held at most this long from when it is taken in, whatever expiry it names
     * @param maxEntries  the most certificate and token revocations held of one peer: a document
     *                    that lists more, or would bring what is held of it over this, is refused
     */
    public FederatedRevocations(Federation federation, BundleFetcher fetcher, RevocationRepository repository,
            RevocationRegistry registry, AuditLog audit, Clock clock, Duration interval, Duration maxLifetime,
            int maxEntries) {
        this.federation = federation;
        this.fetcher = fetcher;
        this.repository = repository;
        this.registry = registry;
        this.audit = audit;
        this.clock = clock;
        this.interval = interval;
        this.maxLifetime = maxLifetime;
        this.maxEntries = maxEntries;
    }

    /** Where a peer serves its revocations: beside its bundle document. */
    static URI documentUrl(FederationRelationship relationship) {
        return relationship.endpoint().resolve("revocations");
    }

    /** Polls every federated peer whose turn it is (the scheduler calls it every interval). */
    public void pollDue() {
        Instant now = clock.instant();
        List<Federation.State> states = federation.list();
        follows.keySet().retainAll(states.stream().map(s -> s.relationship().trustDomain()).toList());
        for (Federation.State state : states) {
            Follow follow = follows.compute(state.relationship().trustDomain(), (td, held) ->
                    held != null && held.relationship.equals(state.relationship()) ? held
                            : new Follow(state.relationship()));
            if (state.bundle().isPresent() && !now.isBefore(follow.next)) {
                poll(state, follow, now);
            }
        }
    }

    private void poll(Federation.State state, Follow follow, Instant now) {
        FederationRelationship relationship = state.relationship();
        String td = relationship.trustDomain();
        URI url = documentUrl(relationship);
        follow.next = now.plus(interval);
        try {
            BundleFetcher.Document fetched = fetcher.get(relationship, state.bundle(), url, follow.etag,
                    RevocationDocument.MAX_BYTES);
            if (fetched.status() == 304) {
                return;
            }
            RevocationDocument document;
            try {
                document = RevocationDocument.parse(fetched.body());
            } catch (IllegalArgumentException e) {
                throw new IOException(url + ": " + e.getMessage(), e);
            }
            if (!document.trustDomain().equals(td)) {
                throw new IOException(url + " lists the revocations of " + document.trustDomain() + ", not " + td);
            }
            long credentials = document.revocations().stream()
                    .filter(e -> e.target().kind() != RevocationTarget.Kind.SPIFFE_ID).count();
            if (credentials > maxEntries) {
                throw new IOException(url + " lists " + credentials + " certificate and token revocations, over the "
                        + maxEntries + " taken from one trust domain (federation.revocation-max-entries)");
            }
            // A certificate or token revocation is held until what it names expires, but never longer
            // than a credential can live: a peer cannot make one permanent. What has expired is left out.
            Instant latest = now.plus(maxLifetime);
            List<RevocationRepository.NewRevocation> listed = document.revocations().stream()
                    .filter(e -> e.target().kind() == RevocationTarget.Kind.SPIFFE_ID
                            ? SpiffeId.parse(e.target().value()).isMemberOf(td)
                            : e.expiresAt().orElseThrow().isAfter(now))
                    .map(e -> new RevocationRepository.NewRevocation(e.target(), e.reason(), "", e.revokedAt(),
                            "federation " + td, "", "", e.expiresAt().map(t -> t.isAfter(latest) ? latest : t), td))
                    .toList();
            // What changed is stored with its record, or not at all (then the next poll tries again). A
            // document older than one applied (by any replica, before or since a restart) is a stale copy,
            // from a caching proxy say: applied, it would lift what the newer one revoked.
            Optional<RevocationRepository.Imported> imported;
            try {
                imported = audit.recordIfChanged(
                        result -> new AuditEvent(now, "lanyard", "federation.revocations", td, AuditEvent.Outcome.SUCCESS,
                                result.revoked() + " revoked, " + result.reinstated() + " reinstated, from " + url
                                        + " (its sequence " + document.sequence() + ")"),
                        () -> {
                            RevocationRepository.Imported result = repository.importFederated(td, document.sequence(),
                                    listed, maxEntries, now, "federation " + td);
                            return result.revoked() + result.reinstated() == 0 ? Optional.empty() : Optional.of(result);
                        });
            } catch (RevocationRepository.OlderThanApplied e) {
                throw new IOException(url + " served sequence " + e.offered() + ", older than the " + e.applied()
                        + " applied", e);
            }
            if (imported.isEmpty()) {
                repository.noteFederatedSequence(td, document.sequence()); // rolled back with the empty change
            }
            registry.catchUp();
            follow.etag = fetched.etag();
            if (!follow.lastError.isEmpty()) {
                LOG.info("revocations of {} followed again from {}", td, url);
            }
            follow.lastError = "";
            imported.ifPresent(changed -> LOG.info("revocations of {}: {} new, {} lifted (its sequence {})", td,
                    changed.revoked(), changed.reinstated(), document.sequence()));
        } catch (IOException | RuntimeException e) {
            String error = e.getMessage() == null ? e.toString() : e.getMessage();
            if (error.startsWith("HTTP 404")) {
                follow.next = now.plus(ABSENT_RETRY); // a peer that does not publish revocations
            }
            if (!error.equals(follow.lastError)) {
                audit.record(new AuditEvent(now, "lanyard", "federation.revocations", td, AuditEvent.Outcome.FAILED,
                        "fetch from " + url + " failed, the revocations held stay: " + error));
                LOG.warn("following the revocations of {} from {} failed; what is held stays: {}", td, url, error);
            }
            follow.lastError = error;
        }
    }
}
