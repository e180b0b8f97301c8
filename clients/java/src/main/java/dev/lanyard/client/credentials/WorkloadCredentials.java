package dev.lanyard.client.credentials;

import com.google.protobuf.ByteString;
import dev.lanyard.client.revocation.RevocationSet;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.IssueTokenResponse;
import dev.lanyard.v1.JoinTokenAttestation;
import dev.lanyard.v1.RenewCertificateRequest;
import dev.lanyard.v1.TokenServiceGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A workload's identity from Lanyard, kept fresh: bootstraps with a one-time join token, renews at
 * half-life with a new key each time, and hands out TLS material that follows the renewals
 * (a key manager, a trust manager, an {@link SSLContext}, gRPC channel and server credentials) plus
 * tokens for the services the workload calls.
 *
 * <p>Private keys are made here (ECDSA P-256) and never leave the process. The join token is used
 * once, sent only over a connection that verified the server, and forgotten. Every channel to Lanyard
 * (bootstrap, renewal, tokens, bundles, {@link #lanyardChannelCredentials()}) accepts only Lanyard's own
 * SVID, {@code spiffe://<trust domain>/lanyard/server}, on a chain to the roots, whatever its host name.
 *
 * <p>Renewal runs on the given scheduler. A transient failure (server unavailable, deadline) is
 * retried with doubling backoff; a refusal (for example the identity was revoked) stops renewal,
 * and the current certificate serves until it expires — see {@link #lastRenewalFailure()}.
 *
 * <p>A token is bound to one certificate, and the service called refuses it over a connection that
 * presents another. So a channel that carries tokens is built for one SVID, taken once:
 * {@code Svid svid = credentials.svid()}, then {@link #channelCredentials(Svid)} for the channel and
 * {@link #token(Svid, String, Set)} for its tokens. After a renewal, such a channel keeps presenting
 * its SVID (and gets tokens for it) until that expires; build a new one from a
 * {@linkplain #addRenewalListener renewal listener}.
 */
public final class WorkloadCredentials implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(WorkloadCredentials.class);

    private final String target;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final Duration ttl;
    private final Duration callTimeout;
    private final CsrMaker csrs;
    private final RenewalSchedule schedule;
    private final ReloadingKeyManager keyManager;
    private final ReloadingTrustManager trustManager;
    /** Off until {@link #refuseRevoked}; every peer trust manager handed out consults it. */
    private final PeerRevocations peerRevocations = new PeerRevocations();
    /** The roots' trust manager, refusing revoked peers once asked to: for peers, not for Lanyard. */
    private final RevocationCheckingTrustManager peerTrust;
    /** Trusts only Lanyard's own SVID on the current roots: every channel to Lanyard uses it. */
    private final LanyardServerTrust lanyardTrust;
    private final SSLContext sslContext;
    private final TokenCache tokens;
    /** A channel to Lanyard presenting exactly one SVID: what is minted over it is bound to that SVID. */
    private record Link(Svid svid, ManagedChannel channel) {
    }

    private final AtomicReference<Link> lanyard = new AtomicReference<>();
    /** Links of earlier SVIDs, kept while those are valid for the channels that still present them. */
    private final List<Link> retired = new CopyOnWriteArrayList<>();
    private final AtomicReference<java.util.Map<String, List<X509Certificate>>> federatedRoots =
            new AtomicReference<>(java.util.Map.of());
    private volatile boolean federationUsed;
    private final List<Consumer<Svid>> listeners = new CopyOnWriteArrayList<>();
    private final Object renewalLock = new Object();
    private ScheduledFuture<?> nextRenewal;
    private int consecutiveFailures;
    private volatile CredentialException lastRenewalFailure;
    private volatile boolean closed;

    private WorkloadCredentials(Builder builder, CsrMaker csrs, Svid svid) {
        this.target = builder.target;
        this.clock = builder.clock;
        this.scheduler = builder.scheduler;
        this.ttl = builder.ttl;
        this.callTimeout = builder.callTimeout;
        this.csrs = csrs;
        this.schedule = new RenewalSchedule(builder.initialBackoff, builder.maxBackoff);
        this.keyManager = new ReloadingKeyManager(svid);
        this.trustManager = new ReloadingTrustManager(svid.bundle());
        this.peerTrust = new RevocationCheckingTrustManager(trustManager, peerRevocations);
        this.lanyardTrust = new LanyardServerTrust(trustManager, Optional.of(IssuedSvidCheck.trustDomainOf(svid.spiffeId())));
        try {
            this.sslContext = SSLContext.getInstance("TLS");
            sslContext.init(new KeyManager[] {keyManager}, new TrustManager[] {peerTrust}, builder.random);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a TLS context: " + e.getMessage(), e);
        }
        this.tokens = new TokenCache(this::issueToken, clock);
        lanyard.set(new Link(svid, newLanyardChannel(svid)));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The workload's SPIFFE ID. */
    public String spiffeId() {
        return keyManager.current().spiffeId();
    }

    /** The current SVID. */
    public Svid svid() {
        return keyManager.current();
    }

    /** The current leaf certificate. */
    public X509Certificate certificate() {
        return keyManager.current().leaf();
    }

    /** The root certificates currently trusted (from the latest issuance). */
    public List<X509Certificate> trustBundle() {
        return trustManager.roots();
    }

    /** Presents the current SVID; follows renewals. */
    public X509ExtendedKeyManager keyManager() {
        return keyManager;
    }

    /**
     * Trusts the current bundle's roots (PKIX, with host-name checks when the engine asks); follows renewals,
     * and refuses revoked peers after {@link #refuseRevoked}. It names no accepted issuers, so a server on it asks
     * every client for its certificate whatever the roots, before or after a rotation; the roots are
     * {@link #trustBundle()}.
     */
    public X509ExtendedTrustManager trustManager() {
        return peerTrust;
    }

    /**
     * From now on every peer trust manager of these credentials, made before or after this call
     * ({@link #trustManager()}, {@link #sslContext()}, {@link #channelCredentials()},
     * {@link #serverCredentials()}, {@link #federatedTrust}), refuses at the handshake a peer whose SPIFFE ID
     * or certificate serial {@code revocations} say is revoked: revoked by Lanyard, or by a federated trust
     * domain's Lanyard and passed on by ours, which refuses only that trust domain's peers. Until
     * {@code revocations} are loaded (a {@code RevocationWatcher}'s first catch-up) every peer is refused:
     * a revoked one could not be told apart. Channels to Lanyard are not checked: the watcher's own channel
     * must connect for the revocations to load.
     */
    public void refuseRevoked(RevocationSet revocations) {
        peerRevocations.follow(revocations);
    }

    /** A TLS context on the reloading key and trust managers: it never needs rebuilding. */
    public SSLContext sslContext() {
        return sslContext;
    }

    /**
     * A trust manager for peers from the given trust domains, this workload's own and any Lanyard
     * federates with: each peer is checked against its own trust domain's roots. The federated
     * bundles are fetched from Lanyard now and again at every renewal.
     */
    public FederatedPeerTrust federatedTrust(Set<String> allowedTrustDomains) throws CredentialException {
        federationUsed = true;
        refreshFederatedBundles();
        return new FederatedPeerTrust(IssuedSvidCheck.trustDomainOf(spiffeId()), trustManager::roots, federatedRoots::get,
                allowedTrustDomains, peerRevocations);
    }

    /** Reads the federated bundles from Lanyard's TrustBundleService (federated_bundles). */
    private void refreshFederatedBundles() throws CredentialException {
        dev.lanyard.v1.TrustBundle bundle;
        try {
            bundle = dev.lanyard.v1.TrustBundleServiceGrpc.newBlockingStub(lanyardChannel())
                    .withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .getTrustBundle(dev.lanyard.v1.GetTrustBundleRequest.getDefaultInstance());
        } catch (StatusRuntimeException e) {
            throw new CredentialException("reading the federated bundles from " + target, e.getStatus());
        }
        java.util.Map<String, List<X509Certificate>> federated = new java.util.HashMap<>();
        for (dev.lanyard.v1.TrustBundle foreign : bundle.getFederatedBundlesList()) {
            List<X509Certificate> roots = new ArrayList<>();
            for (ByteString der : foreign.getX509AuthoritiesList()) {
                try {
                    roots.add((X509Certificate) CertificateFactory.getInstance("X.509")
                            .generateCertificate(new java.io.ByteArrayInputStream(der.toByteArray())));
                } catch (java.security.cert.CertificateException e) {
                    LOG.warn("ignoring an unreadable root of the federated trust domain {}", foreign.getTrustDomain());
                }
            }
            if (!roots.isEmpty()) {
                federated.put(foreign.getTrustDomain(), List.copyOf(roots));
            }
        }
        federatedRoots.set(java.util.Map.copyOf(federated));
    }

    /**
     * mTLS credentials for gRPC channels to other workloads, presenting the SVID current at each
     * handshake. A channel that carries tokens needs {@link #channelCredentials(Svid)}.
     */
    public ChannelCredentials channelCredentials() {
        return TlsChannelCredentials.newBuilder().keyManager(keyManager).trustManager(peerTrust).build();
    }

    /**
     * mTLS credentials presenting exactly {@code svid} on every handshake of the channel, reconnections
     * included, so that the tokens it carries can be {@link #token(Svid, String, Set)} for the same SVID.
     */
    public ChannelCredentials channelCredentials(Svid svid) {
        return TlsChannelCredentials.newBuilder().keyManager(new ReloadingKeyManager(Objects.requireNonNull(svid, "svid")))
                .trustManager(peerTrust).build();
    }

    /**
     * mTLS credentials for channels to Lanyard itself (a {@code RevocationWatcher}'s, say), presenting the SVID
     * current at each handshake. The server must present Lanyard's own SVID,
     * {@code spiffe://<trust domain>/lanyard/server}, on a chain to the current roots; its host name is not
     * checked, since a workload may be registered with any DNS name.
     */
    public ChannelCredentials lanyardChannelCredentials() {
        return TlsChannelCredentials.newBuilder().keyManager(keyManager).trustManager(lanyardTrust).build();
    }

    /** mTLS credentials for a gRPC server: client certificates are required and must chain to the bundle. */
    public ServerCredentials serverCredentials() {
        return TlsServerCredentials.newBuilder().keyManager(keyManager).trustManager(peerTrust)
                .clientAuth(TlsServerCredentials.ClientAuth.REQUIRE).build();
    }

    /**
     * A token for calling {@code audience} with {@code scopes}, bound to {@code svid}'s certificate: send
     * it over a channel built with {@link #channelCredentials(Svid)} for the same SVID. Minted over a
     * channel to Lanyard presenting that SVID; cached until 30 s (or a fifth of its life) before it, or
     * the certificate, expires.
     *
     * @throws CredentialException when Lanyard refuses (the message names the status and reason), or
     *     when {@code svid} is no longer held (an earlier one that has expired)
     */
    public String token(Svid svid, String audience, Set<String> scopes) throws CredentialException {
        return tokens.token(audience, scopes, svid);
    }

    /** Called with the new SVID after every renewal, on the renewing thread. */
    public void addRenewalListener(Consumer<Svid> listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Why the last renewal attempt failed, if it did and no renewal has succeeded since. */
    public Optional<CredentialException> lastRenewalFailure() {
        return Optional.ofNullable(lastRenewalFailure);
    }

    /** Renews now (as the schedule does at half-life) and reschedules from the new certificate. */
    public Svid renewNow() throws CredentialException {
        synchronized (renewalLock) {
            if (closed) {
                throw new CredentialException("these credentials are closed");
            }
            Svid current = keyManager.current();
            CsrMaker.KeyAndCsr request = csrs.next();
            RenewCertificateRequest.Builder renew = RenewCertificateRequest.newBuilder()
                    .setCsr(ByteString.copyFrom(request.csr()));
            if (ttl != null) {
                renew.setTtl(protoDuration(ttl));
            }
            CertificateResponse response;
            ManagedChannel channel = lanyardChannel();
            try {
                response = CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                        .renewCertificate(renew.build());
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
                    // The next attempt connects afresh when it runs, rather than riding a reconnect the
                    // channel began on its own timer while Lanyard was still away.
                    replace(channel);
                }
                throw new CredentialException("renewal of " + current.spiffeId() + " at " + target, e.getStatus());
            }
            List<X509Certificate> bundle = parseBundle(response);
            Svid next = IssuedSvidCheck.check(response, request.keys(), bundle,
                    IssuedSvidCheck.trustDomainOf(current.spiffeId()), current.spiffeId(), clock.instant());
            // First a channel to Lanyard presenting the new SVID, then the SVID itself: whatever svid()
            // returns has a channel to mint its tokens over. A new channel also means a new TLS session
            // cache, so no handshake resumes a session made with the previous certificate.
            swapIn(new Link(next, newLanyardChannel(next)));
            keyManager.update(next);
            trustManager.update(next.bundle());
            closeExpired();
            if (federationUsed) {
                try {
                    refreshFederatedBundles();
                } catch (CredentialException e) {
                    LOG.warn("could not refresh the federated bundles; keeping the last ones: {}", e.getMessage());
                }
            }
            consecutiveFailures = 0;
            lastRenewalFailure = null;
            Duration wait = schedule.untilHalfLife(next.leaf(), clock.instant());
            scheduleRenewal(wait);
            LOG.info("renewed {}: serial {}, notAfter {}, next renewal in {}", next.spiffeId(), next.serialHex(),
                    next.leaf().getNotAfter().toInstant(), wait);
            for (Consumer<Svid> listener : listeners) {
                try {
                    listener.accept(next);
                } catch (RuntimeException e) {
                    LOG.warn("a renewal listener failed", e);
                }
            }
            return next;
        }
    }

    private void scheduledRenewal() {
        synchronized (renewalLock) {
            if (closed) {
                return;
            }
            try {
                renewNow();
            } catch (CredentialException e) {
                lastRenewalFailure = e;
                Status.Code code = e.status().map(Status::getCode).orElse(Status.Code.UNKNOWN);
                if (RenewalSchedule.isTransient(code)) {
                    consecutiveFailures++;
                    Duration wait = schedule.backoff(consecutiveFailures);
                    LOG.warn("{}; retrying in {} (attempt {})", e.getMessage(), wait, consecutiveFailures + 1);
                    scheduleRenewal(wait);
                } else {
                    LOG.error("{}; not retrying: the current certificate serves until {}", e.getMessage(),
                            certificate().getNotAfter().toInstant());
                }
            } catch (RuntimeException e) {
                lastRenewalFailure = new CredentialException("renewal of " + spiffeId() + " failed: " + e, e);
                consecutiveFailures++;
                Duration wait = schedule.backoff(consecutiveFailures);
                LOG.warn("renewal of {} failed; retrying in {}", spiffeId(), wait, e);
                scheduleRenewal(wait);
            }
        }
    }

    private void scheduleRenewal(Duration wait) {
        if (nextRenewal != null) {
            nextRenewal.cancel(false);
        }
        nextRenewal = scheduler.schedule(this::scheduledRenewal, wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Makes {@code next} the current link. The previous one is kept (while its SVID is valid) before the
     * swap, so a token for it finds its channel at every instant: either as the current link or as a
     * retired one. A failed channel replaced meanwhile ({@link #replace}) makes the swap try again.
     */
    private void swapIn(Link next) {
        while (true) {
            Link previous = lanyard.get();
            retired.add(previous);
            if (lanyard.compareAndSet(previous, next)) {
                return;
            }
            retired.remove(previous);
        }
    }

    /** Closes the retired links whose SVID has expired. */
    private void closeExpired() {
        for (Link link : retired) {
            if (!clock.instant().isBefore(link.svid().leaf().getNotAfter().toInstant())) {
                retired.remove(link);
                link.channel().shutdown();
            }
        }
    }

    /** The channel to Lanyard presenting exactly {@code svid}. */
    private ManagedChannel lanyardChannel(Svid svid) throws CredentialException {
        Link current = lanyard.get();
        if (current.svid().equals(svid)) {
            Link usable = usable(current);
            if (usable.svid().equals(svid)) {
                return usable.channel();
            }
            // Renewed meanwhile: the link read is now among the retired ones.
        }
        for (Link link : retired) {
            if (link.svid().equals(svid)) {
                if (!clock.instant().isBefore(svid.leaf().getNotAfter().toInstant())) {
                    break;
                }
                return link.channel();
            }
        }
        throw new CredentialException("the SVID with serial " + svid.serialHex() + " is not held (any more): take the"
                + " current one from svid()");
    }

    private IssueTokenResponse issueToken(IssueTokenRequest request, Svid svid) throws CredentialException {
        try {
            return TokenServiceGrpc.newBlockingStub(lanyardChannel(svid))
                    .withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .issueToken(request);
        } catch (StatusRuntimeException e) {
            throw new CredentialException("token for " + request.getAudience() + " " + request.getScopesList()
                    + " from " + target, e.getStatus());
        }
    }

    /**
     * The channel to Lanyard. One that failed to connect is replaced, so the call makes a real
     * connection attempt now instead of failing fast until the channel's own reconnect backoff ends:
     * our renewal schedule (or the caller of {@link #token}) decides when to try again.
     */
    private ManagedChannel lanyardChannel() {
        return usable(lanyard.get()).channel();
    }

    /** {@code link}, or the link that replaced it if its channel failed to connect. */
    private Link usable(Link link) {
        if (link.channel().getState(false) == ConnectivityState.TRANSIENT_FAILURE) {
            return replace(link.channel());
        }
        return link;
    }

    /**
     * A new link for the current SVID in place of the one whose channel is {@code failed}, unless another
     * thread replaced or renewed it already; the current link either way.
     */
    private Link replace(ManagedChannel failed) {
        Link link = lanyard.get();
        if (link.channel() != failed) {
            return link;
        }
        Link fresh = new Link(link.svid(), newLanyardChannel(link.svid()));
        if (lanyard.compareAndSet(link, fresh)) {
            link.channel().shutdown(); // calls still on it (a token, say) finish there
            return fresh;
        }
        fresh.channel().shutdownNow();
        return lanyard.get();
    }

    private ManagedChannel newLanyardChannel(Svid svid) {
        ChannelCredentials credentials = TlsChannelCredentials.newBuilder()
                .keyManager(new ReloadingKeyManager(svid)).trustManager(lanyardTrust).build();
        return Grpc.newChannelBuilder(target, credentials).build();
    }

    /** Stops renewing and closes the connection to Lanyard. The TLS material keeps working until it expires. */
    @Override
    public void close() {
        synchronized (renewalLock) {
            closed = true;
            if (nextRenewal != null) {
                nextRenewal.cancel(false);
            }
        }
        Link link = lanyard.get();
        if (link != null) {
            link.channel().shutdownNow();
        }
        for (Link old : retired) {
            old.channel().shutdownNow();
        }
        retired.clear();
    }

    @Override
    public String toString() {
        return "WorkloadCredentials[" + keyManager.current() + ", lanyard " + target + "]";
    }

    private static List<X509Certificate> parseBundle(CertificateResponse response) throws CredentialException {
        List<X509Certificate> roots = new ArrayList<>();
        for (ByteString der : response.getTrustBundleList()) {
            try {
                roots.add((X509Certificate) CertificateFactory.getInstance("X.509")
                        .generateCertificate(new ByteArrayInputStream(der.toByteArray())));
            } catch (GeneralSecurityException e) {
                throw new CredentialException("the server's trust bundle holds a certificate that does not parse");
            }
        }
        return roots;
    }

    private static com.google.protobuf.Duration protoDuration(Duration duration) {
        return com.google.protobuf.Duration.newBuilder().setSeconds(duration.getSeconds())
                .setNanos(duration.getNano()).build();
    }

    /** What a workload needs to bootstrap; {@link #bootstrap()} refuses anything missing. */
    public static final class Builder {

        private String target;
        private String joinToken;
        private List<X509Certificate> trustBundle;
        private PinnedRoot pinnedRoot;
        private Clock clock;
        private ScheduledExecutorService scheduler;
        private SecureRandom random;
        private Duration ttl;
        private List<String> dnsNames = List.of();
        private Duration callTimeout = Duration.ofSeconds(30);
        private Duration initialBackoff = Duration.ofSeconds(1);
        private Duration maxBackoff = Duration.ofMinutes(2);

        private Builder() {
        }

        /**
         * Lanyard's gRPC address, "host:port". Required. Any name or address that reaches it will do: the
         * server is known by its SPIFFE ID ({@code spiffe://<trust domain>/lanyard/server}), not its host name.
         */
        public Builder target(String target) {
            this.target = target;
            return this;
        }

        /** The one-time join token an admin created for this workload. Required; a secret. */
        public Builder joinToken(String joinToken) {
            this.joinToken = joinToken;
            return this;
        }

        /** Trust these roots to verify Lanyard at bootstrap. One of this or {@link #pinnedRoot}. */
        public Builder trustBundle(Collection<X509Certificate> roots) {
            this.trustBundle = List.copyOf(roots);
            return this;
        }

        /** Trust the root with this SHA-256 fingerprint ("sha256:hex"). One of this or {@link #trustBundle}. */
        public Builder pinnedRoot(String fingerprint) {
            this.pinnedRoot = PinnedRoot.parse(fingerprint);
            return this;
        }

        /** Required: renewal times and certificate checks run on it. */
        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        /** Required: renewals run on it. It stays the caller's; {@link #close()} only cancels our task. */
        public Builder scheduler(ScheduledExecutorService scheduler) {
            this.scheduler = scheduler;
            return this;
        }

        /** Required: keys and TLS draw from it. */
        public Builder random(SecureRandom random) {
            this.random = random;
            return this;
        }

        /** Requested certificate lifetime; by default the server's. */
        public Builder ttl(Duration ttl) {
            this.ttl = ttl;
            return this;
        }

        /** DNS names to ask for in the certificate (they must be in the registration). */
        public Builder dnsNames(List<String> dnsNames) {
            this.dnsNames = List.copyOf(dnsNames);
            return this;
        }

        /** Deadline of each call to Lanyard; 30 s by default. */
        public Builder callTimeout(Duration callTimeout) {
            this.callTimeout = callTimeout;
            return this;
        }

        /** Wait after the first failed renewal, doubling up to {@code max}; 1 s and 2 min by default. */
        public Builder renewalBackoff(Duration initial, Duration max) {
            this.initialBackoff = initial;
            this.maxBackoff = max;
            return this;
        }

        /**
         * Gets the first certificate (blocking) and schedules its renewal.
         *
         * @throws CredentialException when the server cannot be verified or refuses the join token
         */
        public WorkloadCredentials bootstrap() throws CredentialException {
            validate();
            CsrMaker csrs = new CsrMaker(random, dnsNames);
            List<X509Certificate> roots = trustBundle;
            // With a trust bundle alone the trust domain is not known yet: the Lanyard server of any trust
            // domain those roots vouch for is accepted, as in the Go client.
            Optional<String> trustDomain = Optional.empty();
            if (pinnedRoot != null) {
                PinnedBundleFetch.Pinned pinned = PinnedBundleFetch.pinnedRoot(target, pinnedRoot, callTimeout);
                roots = List.of(pinned.root());
                trustDomain = Optional.of(pinned.trustDomain());
            }
            CsrMaker.KeyAndCsr request = csrs.next();
            IssueCertificateRequest.Builder issue = IssueCertificateRequest.newBuilder()
                    .setAttestation(Attestation.newBuilder()
                            .setJoinToken(JoinTokenAttestation.newBuilder().setToken(joinToken)))
                    .setCsr(ByteString.copyFrom(request.csr()));
            if (ttl != null) {
                issue.setTtl(protoDuration(ttl));
            }
            // Lanyard's own SVID on a chain to the roots, no client certificate: the join token is the proof.
            LanyardServerTrust serverTrust = new LanyardServerTrust(ReloadingTrustManager.pkix(roots), trustDomain);
            ChannelCredentials verified = TlsChannelCredentials.newBuilder().trustManager(serverTrust).build();
            ManagedChannel channel = Grpc.newChannelBuilder(target, verified).build();
            CertificateResponse response;
            try {
                response = CertificateServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(callTimeout.toMillis(), TimeUnit.MILLISECONDS)
                        .issueCertificate(issue.build());
            } catch (StatusRuntimeException e) {
                throw new CredentialException("bootstrap at " + target, e.getStatus());
            } finally {
                channel.shutdownNow();
                joinToken = null;
            }
            // The server answered over TLS, so its trust manager accepted it and knows its trust domain.
            String serverTrustDomain = serverTrust.acceptedTrustDomain().orElseThrow(() -> new CredentialException(
                    "bootstrap at " + target + ": no Lanyard server was verified"));
            Svid svid = IssuedSvidCheck.check(response, request.keys(), roots, serverTrustDomain, null,
                    clock.instant());
            WorkloadCredentials credentials = new WorkloadCredentials(this, csrs, svid);
            Duration wait = credentials.schedule.untilHalfLife(svid.leaf(), clock.instant());
            synchronized (credentials.renewalLock) {
                credentials.scheduleRenewal(wait);
            }
            LOG.info("bootstrapped {}: serial {}, notAfter {}, renewal in {}", svid.spiffeId(), svid.serialHex(),
                    svid.leaf().getNotAfter().toInstant(), wait);
            return credentials;
        }

        private void validate() {
            if (target == null || target.isBlank()) {
                throw new IllegalStateException("a target (Lanyard's host:port) is required");
            }
            if (joinToken == null || joinToken.isBlank()) {
                throw new IllegalStateException("a join token is required to bootstrap");
            }
            if ((trustBundle == null) == (pinnedRoot == null)) {
                throw new IllegalStateException(
                        "exactly one of trustBundle and pinnedRoot is required to verify the server");
            }
            if (trustBundle != null && trustBundle.isEmpty()) {
                throw new IllegalStateException("the trust bundle is empty");
            }
            if (clock == null || scheduler == null || random == null) {
                throw new IllegalStateException("a clock, a scheduler and a SecureRandom are required");
            }
            if (ttl != null && (ttl.isNegative() || ttl.isZero())) {
                throw new IllegalStateException("the requested TTL must be positive, not " + ttl);
            }
            if (callTimeout == null || callTimeout.isNegative() || callTimeout.isZero()) {
                throw new IllegalStateException("the call timeout must be positive, not " + callTimeout);
            }
            Objects.requireNonNull(initialBackoff, "initialBackoff");
            Objects.requireNonNull(maxBackoff, "maxBackoff");
            new RenewalSchedule(initialBackoff, maxBackoff);
        }

        @Override
        public String toString() {
            return "WorkloadCredentials.Builder[" + target + "]";
        }
    }
}
