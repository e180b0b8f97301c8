package dev.lanyard.revocation;

import dev.lanyard.refusal.Refusal;
import dev.lanyard.spiffe.SpiffeId;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The revocations in force and the replayable event log, in memory, following the durable log.
 *
 * <p>Checks on the hot paths (renewal, token minting) read memory only. {@link #catchUp()} applies
 * whatever the database holds beyond the last sequence seen: right after a local write, and on a
 * timer for writes made by other replicas sharing the database. Listeners get each new batch in order.
 */
public final class RevocationRegistry {

    private static final int PAGE = 1_000;

    private final RevocationRepository repository;
    private final Clock clock;
    /** Keyed by who revoked it too: a federated trust domain's revocations are its own ('' is this server). */
    private final Map<Key, Revocation> inForce = new ConcurrentHashMap<>();
    private final NavigableMap<Long, RevocationEvent> log = new ConcurrentSkipListMap<>();
    private final List<Consumer<List<RevocationEvent>>> listeners = new CopyOnWriteArrayList<>();
    private volatile long latestSequence;
    /** The store's head when this replica first caught up, or -1 before: see {@link #documentSequence()}. */
    private volatile long headAtStart = -1;

    public RevocationRegistry(RevocationRepository repository, Clock clock) {
        this.repository = repository;
        this.clock = clock;
    }

    /** Called with every batch of new events, in sequence order, from the thread that caught up. */
    public void addListener(Consumer<List<RevocationEvent>> listener) {
        listeners.add(listener);
    }

    /** Applies every durable event beyond the last one seen; returns how many there were. */
    public synchronized int catchUp() {
        if (headAtStart < 0) {
            headAtStart = repository.lastSequence(); // before the events: none at or below it is missed
        }
        int applied = 0;
        while (true) {
            List<RevocationEvent> batch = repository.eventsAfter(latestSequence, PAGE);
            if (batch.isEmpty()) {
                return applied;
            }
            for (RevocationEvent event : batch) {
                apply(event);
            }
            applied += batch.size();
            for (Consumer<List<RevocationEvent>> listener : listeners) {
                listener.accept(batch);
            }
        }
    }

    private void apply(RevocationEvent event) {
        if (event instanceof RevocationEvent.Revoked r) {
            inForce.put(new Key(r.revocation().trustDomain(), r.revocation().target()), r.revocation());
        } else if (event instanceof RevocationEvent.Reinstated r) {
            // An identity is revoked only by its own trust domain's server: this one, or the peer of its
            // trust domain. At most one of the two is held.
            RevocationTarget identity = RevocationTarget.spiffeId(r.spiffeId());
            inForce.remove(new Key("", identity));
            inForce.remove(new Key(SpiffeId.parse(r.spiffeId()).trustDomain(), identity));
        }
        log.put(event.sequence(), event);
        latestSequence = event.sequence();
    }

    public long latestSequence() {
        return latestSequence;
    }

    /**
     * The sequence a published revocation document carries: the newest event applied, or the store's
     * head at start when that is higher (events pruned since, or a restore's floor above what the lost
     * server published), so that a peer which applied an earlier document never takes this one for stale.
     */
    public long documentSequence() {
        return Math.max(latestSequence, headAtStart);
    }

    /**
     * Refuses to resume a watch after {@code sequence} if this store never handed that sequence out: the
     * watcher followed another store, or an older copy of this one, and resuming would skip the events
     * this store numbers up to it. One past what this replica has loaded is looked up in the database
     * (another replica may have handed it out; the watch gets what follows once this one catches up).
     */
    public void requireHandedOut(long sequence) throws Refusal {
        if (sequence <= latestSequence) {
            return;
        }
        long head = repository.lastSequence();
        if (sequence > head) {
            throw new Refusal(Refusal.Code.OUT_OF_RANGE, "after_sequence " + sequence
                    + " is past the newest revocation sequence " + head + " of this server's store (the watcher"
                    + " followed another store, or an older copy of this one): watch again from 0");
        }
    }

    /** This server's own revocation of {@code target} if it is in force now. */
    public Optional<Revocation> find(RevocationTarget target) {
        return find("", target);
    }

    /** The revocation of {@code target} by {@code trustDomain} ('' for this server) if it is in force now. */
    public Optional<Revocation> find(String trustDomain, RevocationTarget target) {
        Revocation revocation = inForce.get(new Key(trustDomain, target));
        return revocation != null && revocation.inForceAt(clock.instant()) ? Optional.of(revocation) : Optional.empty();
    }

    /**
     * Why a caller holding the certificate {@code serialHex} for {@code id} must be refused, if it
     * must: the identity's revocation first, then the certificate's; each as this server revoked it or
     * as the federated trust domain of {@code id} did (another trust domain's never applies).
     */
    public Optional<Revocation> refusalFor(SpiffeId id, Optional<String> serialHex) {
        Optional<Revocation> identity = findOwnOrBy(id.trustDomain(), RevocationTarget.spiffeId(id));
        if (identity.isPresent() || serialHex.isEmpty()) {
            return identity;
        }
        return findOwnOrBy(id.trustDomain(), new RevocationTarget(RevocationTarget.Kind.SERIAL, serialHex.get()));
    }

    private Optional<Revocation> findOwnOrBy(String trustDomain, RevocationTarget target) {
        return find(target).or(() -> find(trustDomain, target));
    }

    private record Key(String trustDomain, RevocationTarget target) {
    }

    /** Every revocation in force now, oldest first. */
    public List<Revocation> inForce() {
        Instant now = clock.instant();
        List<Revocation> live = new ArrayList<>();
        for (Revocation r : inForce.values()) {
            if (r.inForceAt(now)) {
                live.add(r);
            }
        }
        live.sort(Comparator.comparingLong(Revocation::sequence));
        return live;
    }

    /**
     * The events after {@code sequence} a watcher still needs, oldest first: revocations of
     * certificates and tokens that have expired since are left out, they can no longer matter.
     */
    public List<RevocationEvent> eventsAfter(long sequence) {
        return eventsAfter(sequence, Integer.MAX_VALUE);
    }

    /** At most {@code limit} of {@link #eventsAfter(long)}: a watcher far behind catches up a page at a time. */
    public List<RevocationEvent> eventsAfter(long sequence, int limit) {
        Instant now = clock.instant();
        List<RevocationEvent> events = new ArrayList<>();
        for (RevocationEvent event : log.tailMap(sequence, false).values()) {
            if (events.size() >= limit) {
                break;
            }
            if (!(event instanceof RevocationEvent.Revoked r) || r.revocation().inForceAt(now)) {
                events.add(event);
            }
        }
        return events;
    }

    /** Forgets what has expired, here and in the database. */
    public synchronized void pruneExpired() {
        Instant now = clock.instant();
        inForce.values().removeIf(r -> !r.inForceAt(now));
        log.values().removeIf(e -> e instanceof RevocationEvent.Revoked r && !r.revocation().inForceAt(now));
        repository.pruneExpired(now);
    }
}
