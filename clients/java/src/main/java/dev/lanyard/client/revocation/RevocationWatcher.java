package dev.lanyard.client.revocation;

import dev.lanyard.client.http.BoundedExchange;
import dev.lanyard.v1.Revocation;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.security.cert.X509CRLEntry;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows Lanyard's {@code WatchRevocations} stream and answers "is this revoked?" from memory.
 *
 * <p>It resumes from the last sequence it saw after any disconnect (from 0, keeping what it holds, when
 * the server refuses that sequence with OUT_OF_RANGE), and treats two missed heartbeats as a dead stream. While the stream is down it falls back to the signed CRLs (verified
 * against the issuing CAs given), which cover certificates; identities and token ids are known only
 * from the stream, and what it learned before it went down stays known. So does what a CRL listed when a
 * later fetch of it fails or is stale.
 */
public final class RevocationWatcher implements RevocationSet, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RevocationWatcher.class);
    private static final Duration CHECK_EVERY = Duration.ofMillis(500);
    /**
     * A CRL fetch, body included, ends within this: it runs on the scheduler that also reconnects the
     * stream, so a server that stalls its body must not hold it.
     */
    static final Duration CRL_TIMEOUT = Duration.ofSeconds(10);
    /** A CRL of a few hundred thousand entries fits; a larger body is refused unread. */
    static final int CRL_MAX_BYTES = 16 * 1024 * 1024;

    private final RevocationServiceGrpc.RevocationServiceStub stub;
    private final List<URI> crlUrls;
    private final Supplier<Collection<X509Certificate>> crlIssuers;
    private final Duration crlRefresh;
    private final HttpClient http;
    private final ScheduledExecutorService scheduler;
    private final Clock clock;

    /** A revoked token or certificate: until when it matters, and who revoked it. */
    private record Held(Instant until, String trustDomain) {
        /** A federated trust domain's revocation (trustDomain not empty) refuses only its own. */
        boolean refuses(String spiffeId, Instant now) {
            return now.isBefore(until) && (trustDomain.isEmpty() || spiffeId.isEmpty()
                    || spiffeId.startsWith("spiffe://" + trustDomain + "/"));
        }
    }

    /** By jti (serial), then by the trust domain that revoked it: one never replaces another's. */
    private final Map<String, Map<String, Held>> jtis = new ConcurrentHashMap<>();
    private final Map<String, Map<String, Held>> serials = new ConcurrentHashMap<>();
    private final Set<String> identities = ConcurrentHashMap.newKeySet();
    /** Per CRL URL, the serials its last good fetch listed: a failed or stale fetch revokes nothing less. */
    private final Map<URI, Set<String>> crlSerials = new ConcurrentHashMap<>();

    private final Object lock = new Object();
    private long lastSequence;
    private Instant lastHeard;
    private Duration heartbeat = Duration.ofSeconds(5);
    private boolean caughtUp;
    /** Counted down at the first catch-up: the revocations in force are known from then on. */
    private final CountDownLatch loaded = new CountDownLatch(1);
    private Context.CancellableContext stream;
    private Instant nextCrlFetch = Instant.MIN;
    private ScheduledFuture<?> checks;
    private volatile boolean closed;

    private RevocationWatcher(Builder b) {
        this.stub = RevocationServiceGrpc.newStub(b.channel);
        this.crlUrls = List.copyOf(b.crlUrls);
        this.crlIssuers = b.crlIssuers;
        this.crlRefresh = b.crlRefresh;
        this.http = b.http;
        this.scheduler = b.scheduler;
        this.clock = b.clock;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Opens the stream and starts watching over it. */
    private void start() {
        synchronized (lock) {
            lastHeard = clock.instant();
            connect();
        }
        checks = scheduler.scheduleWithFixedDelay(this::check, CHECK_EVERY.toMillis(), CHECK_EVERY.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    @Override
    public boolean isRevokedJti(String jti) {
        return isRevokedJti(jti, "");
    }

    @Override
    public boolean isRevokedJti(String jti, String spiffeId) {
        return refuses(jtis, jti, spiffeId);
    }

    @Override
    public boolean isRevokedIdentity(String spiffeId) {
        return identities.contains(spiffeId);
    }

    @Override
    public boolean isRevokedSerial(String serialHex) {
        return isRevokedSerial(serialHex, "");
    }

    @Override
    public boolean isRevokedSerial(String serialHex, String spiffeId) {
        String serial = new BigInteger(serialHex, 16).toString(16);
        return refuses(serials, serial, spiffeId)
                || crlSerials.values().stream().anyMatch(listed -> listed.contains(serial));
    }

    private boolean refuses(Map<String, Map<String, Held>> held, String value, String spiffeId) {
        Instant now = clock.instant();
        return held.getOrDefault(value, Map.of()).values().stream().anyMatch(h -> h.refuses(spiffeId, now));
    }

    /** True while the stream is up and has caught up with the server. */
    public boolean isLive() {
        synchronized (lock) {
            return caughtUp && stream != null && !deadAt(clock.instant());
        }
    }

    /**
     * True once the stream has caught up for the first time, and from then on: what was learned stays
     * known while the stream is down. Until then a {@link dev.lanyard.client.token.TokenVerifier}
     * refuses every token.
     */
    public boolean isLoaded() {
        return loaded.getCount() == 0;
    }

    @Override
    public boolean awaitLoaded(Duration wait) throws InterruptedException {
        return loaded.await(wait.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** The newest sequence applied. */
    public long lastSequence() {
        synchronized (lock) {
            return lastSequence;
        }
    }

    private void connect() {
        Context.CancellableContext context = Context.current().withCancellation();
        stream = context;
        caughtUp = false;
        long after = lastSequence;
        context.run(() -> stub.watchRevocations(WatchRevocationsRequest.newBuilder().setAfterSequence(after).build(),
                new Observer(context)));
    }

    /** Every half second: reconnect a dead stream, and keep the CRL fallback fresh while it is down. */
    private void check() {
        if (closed) {
            return;
        }
        boolean down;
        synchronized (lock) {
            Instant now = clock.instant();
            down = !caughtUp || deadAt(now);
            if (deadAt(now) && stream != null) {
                LOG.warn("no revocation event or heartbeat for {}; reconnecting after sequence {}",
                        Duration.between(lastHeard, now), lastSequence);
                stream.cancel(null);
                lastHeard = now; // give the new stream its own two heartbeats
                connect();
            }
        }
        if (down) {
            refreshCrls();
        }
    }

    private boolean deadAt(Instant now) {
        return Duration.between(lastHeard, now).compareTo(heartbeat.multipliedBy(2)) > 0;
    }

    private void refreshCrls() {
        Instant now = clock.instant();
        if (crlUrls.isEmpty() || now.isBefore(nextCrlFetch)) {
            return;
        }
        nextCrlFetch = now.plus(crlRefresh);
        for (URI url : crlUrls) {
            try {
                HttpResponse<byte[]> response = BoundedExchange.send(http,
                        HttpRequest.newBuilder(url).timeout(CRL_TIMEOUT).build(), CRL_TIMEOUT, CRL_MAX_BYTES,
                        "the CRL at " + url);
                if (response.statusCode() != 200) {
                    LOG.warn("CRL {} answered HTTP {}; keeping what it listed before", url, response.statusCode());
                    continue;
                }
                X509CRL crl = verified(response.body());
                if (crl.getNextUpdate() != null && crl.getNextUpdate().toInstant().isBefore(now)) {
                    LOG.warn("CRL {} is stale (nextUpdate {}); keeping what it listed before", url,
                            crl.getNextUpdate().toInstant());
                    continue;
                }
                Set<String> listed = new HashSet<>();
                if (crl.getRevokedCertificates() != null) {
                    for (X509CRLEntry entry : crl.getRevokedCertificates()) {
                        listed.add(entry.getSerialNumber().toString(16));
                    }
                }
                crlSerials.put(url, Set.copyOf(listed));
            } catch (java.io.IOException | GeneralSecurityException e) {
                LOG.warn("could not use CRL {}: {}; keeping what it listed before", url, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Parses a DER CRL and checks it is signed by one of the issuing CAs; refuses it otherwise. */
    private X509CRL verified(byte[] der) throws GeneralSecurityException {
        X509CRL crl = (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(der));
        for (X509Certificate issuer : crlIssuers.get()) {
            if (issuer.getSubjectX500Principal().equals(crl.getIssuerX500Principal())) {
                try {
                    crl.verify(issuer.getPublicKey());
                    return crl;
                } catch (GeneralSecurityException e) {
                    // another CA with the same name may have signed it
                }
            }
        }
        throw new GeneralSecurityException("the CRL is not signed by a trusted issuing CA");
    }

    /** Applies one event of the stream (package-private: tests feed events directly). */
    void apply(RevocationEvent event) {
        if (event.hasRevoked()) {
            Revocation r = event.getRevoked();
            Instant until = r.hasExpiresAt()
                    ? Instant.ofEpochSecond(r.getExpiresAt().getSeconds(), r.getExpiresAt().getNanos()) : Instant.MAX;
            switch (r.getTarget().getTargetCase()) {
                case SERIAL -> serials.computeIfAbsent(new BigInteger(r.getTarget().getSerial(), 16).toString(16),
                        k -> new ConcurrentHashMap<>()).put(r.getTrustDomain(), new Held(until, r.getTrustDomain()));
                case SPIFFE_ID -> identities.add(r.getTarget().getSpiffeId());
                case JTI -> jtis.computeIfAbsent(r.getTarget().getJti(), k -> new ConcurrentHashMap<>())
                        .put(r.getTrustDomain(), new Held(until, r.getTrustDomain()));
                case TARGET_NOT_SET -> LOG.warn("a revocation without a target at sequence {}", event.getSequence());
            }
        } else if (event.hasReinstated()) {
            identities.remove(event.getReinstated().getSpiffeId());
        }
        Instant now = clock.instant();
        for (Map<String, Map<String, Held>> held : List.of(jtis, serials)) {
            held.values().forEach(byDomain -> byDomain.values().removeIf(h -> now.isAfter(h.until())));
            held.values().removeIf(Map::isEmpty);
        }
    }

    /** One stream's events; ignored once that stream has been replaced. */
    private final class Observer implements StreamObserver<RevocationEvent> {
        private final Context.CancellableContext context;

        Observer(Context.CancellableContext context) {
            this.context = context;
        }

        @Override
        public void onNext(RevocationEvent event) {
            synchronized (lock) {
                if (stream != context) {
                    return;
                }
                lastHeard = clock.instant();
                if (event.hasHeartbeat()) {
                    caughtUp = true;
                    loaded.countDown();
                    if (event.getHeartbeat().hasInterval()) {
                        heartbeat = Duration.ofSeconds(event.getHeartbeat().getInterval().getSeconds(),
                                event.getHeartbeat().getInterval().getNanos());
                    }
                    return;
                }
                if (event.getSequence() <= lastSequence) {
                    return;
                }
                apply(event);
                lastSequence = event.getSequence();
            }
        }

        @Override
        public void onError(Throwable t) {
            Status status = Status.fromThrowable(t);
            synchronized (lock) {
                if (stream != context || closed) {
                    return;
                }
                if (status.getCode() == Status.Code.OUT_OF_RANGE) {
                    // The server's store never handed our sequence out (another store, or an older copy):
                    // replay it whole. What we hold stays held: one it no longer has stays revoked here,
                    // the safe side.
                    LOG.warn("the server does not know revocation sequence {} ({}); watching again from 0,"
                            + " keeping the revocations held", lastSequence, status.getDescription());
                    lastSequence = 0;
                }
                caughtUp = false;
                stream = null;
            }
            LOG.warn("revocation stream ended: {}; retrying", status);
            scheduler.schedule(RevocationWatcher.this::reconnect, 1, TimeUnit.SECONDS);
        }

        @Override
        public void onCompleted() {
            onError(Status.UNAVAILABLE.withDescription("the server ended the stream").asRuntimeException());
        }
    }

    private void reconnect() {
        synchronized (lock) {
            if (!closed && stream == null) {
                lastHeard = clock.instant();
                connect();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        if (checks != null) {
            checks.cancel(false);
        }
        synchronized (lock) {
            if (stream != null) {
                stream.cancel(null);
            }
        }
    }

    public static final class Builder {
        private Channel channel;
        private List<URI> crlUrls = List.of();
        private Supplier<Collection<X509Certificate>> crlIssuers = List::of;
        private Duration crlRefresh = Duration.ofSeconds(30);
        private HttpClient http;
        private ScheduledExecutorService scheduler;
        private Clock clock = Clock.systemUTC();

        /** A channel to Lanyard presenting this workload's certificate (any valid one may watch). */
        public Builder channel(Channel channel) {
            this.channel = Objects.requireNonNull(channel);
            return this;
        }

        /**
         * The CRLs to read while the stream is down, and the issuing CAs that must have signed them
         * (the intermediates of the workload's chain; a supplier, so CA rotation is followed).
         */
        public Builder crlFallback(List<URI> urls, Supplier<Collection<X509Certificate>> issuers) {
            this.crlUrls = List.copyOf(urls);
            this.crlIssuers = Objects.requireNonNull(issuers);
            return this;
        }

        /** How often the CRLs are fetched while the stream is down (default 30 s). */
        public Builder crlRefresh(Duration refresh) {
            this.crlRefresh = Objects.requireNonNull(refresh);
            return this;
        }

        public Builder httpClient(HttpClient http) {
            this.http = http;
            return this;
        }

        /** Runs the liveness checks and reconnects. */
        public Builder scheduler(ScheduledExecutorService scheduler) {
            this.scheduler = scheduler;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock);
            return this;
        }

        /** Starts watching; revocations are known once {@link RevocationWatcher#isLoaded()} says so. */
        public RevocationWatcher start() {
            Objects.requireNonNull(channel, "channel");
            Objects.requireNonNull(scheduler, "scheduler");
            if (http == null) {
                http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            }
            RevocationWatcher watcher = new RevocationWatcher(this);
            watcher.start();
            return watcher;
        }
    }
}
