package dev.lanyard.server;

import dev.lanyard.rpc.Protos;
import dev.lanyard.rpc.InboundBudget;
import dev.lanyard.revocation.RevocationWatchers;
import dev.lanyard.bundle.TrustBundles;
import dev.lanyard.attest.JoinTokenNodeAttestor;
import dev.lanyard.attest.JoinTokens;
import dev.lanyard.attest.NodeAttestation;
import dev.lanyard.attest.NodeAttestor;
import dev.lanyard.attest.PsatAttestor;
import dev.lanyard.attest.PsatKeys;
import dev.lanyard.attest.X509PopAttestor;
import dev.lanyard.store.JdbcAgentRepository;
import dev.lanyard.svid.AgentSvids;
import dev.lanyard.v1.AgentServiceGrpc;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.ca.CaBootstrap;
import dev.lanyard.ca.CaGenerator;
import dev.lanyard.ca.CaImporter;
import dev.lanyard.ca.CaKeyStore;
import dev.lanyard.ca.CaRotation;
import dev.lanyard.ca.CaCertificate;
import dev.lanyard.ca.OfflineIntermediates;
import dev.lanyard.ca.RootAdditions;
import dev.lanyard.ca.SuccessorWatch;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.ca.StoredCaKey;
import dev.lanyard.ca.CertificateAuthority;
import dev.lanyard.ca.CsrValidator;
import dev.lanyard.ca.IssuingCa;
import dev.lanyard.ca.SerialNumbers;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.crypto.KekRing;
import dev.lanyard.custody.KekRotation;
import dev.lanyard.store.JdbcKekRotations;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Pkcs11Custody;
import dev.lanyard.custody.SoftwareCustody;
import dev.lanyard.store.JdbcSealedKeyRepository;
import dev.lanyard.store.Database;
import dev.lanyard.store.EmbeddedStore;
import dev.lanyard.contract.ContractRegistry;
import dev.lanyard.jwks.OpenIdConfiguration;
import dev.lanyard.policy.PolicyFileWatcher;
import dev.lanyard.console.ConsoleApp;
import dev.lanyard.console.ConsoleSources;
import dev.lanyard.console.LoginLinks;
import dev.lanyard.console.Sessions;
import dev.lanyard.federation.BundleFetcher;
import dev.lanyard.federation.FederatedRevocations;
import dev.lanyard.federation.Federation;
import dev.lanyard.publication.HttpPublisher;
import dev.lanyard.store.JdbcFederationRepository;
import dev.lanyard.store.JdbcLoginLinkRepository;
import dev.lanyard.v1.ConsoleServiceGrpc;
import dev.lanyard.publication.TlsContexts;
import dev.lanyard.publication.WebCertificate;
import dev.lanyard.policy.PolicyStore;
import dev.lanyard.replica.ChangeFeed;
import dev.lanyard.replica.DatabaseLease;
import dev.lanyard.replica.PolicyReload;
import dev.lanyard.replica.StoreReachability;
import dev.lanyard.rotation.RotationLease;
import dev.lanyard.store.JdbcLeases;
import dev.lanyard.rotation.RotationPlanner;
import dev.lanyard.rotation.RotationPolicy;
import dev.lanyard.rotation.StepLog;
import dev.lanyard.store.JdbcAuditLog;
import dev.lanyard.store.JdbcContractRepository;
import dev.lanyard.store.JdbcPolicyRepository;
import dev.lanyard.store.JdbcSigningKeyRepository;
import dev.lanyard.token.JwtSigningKeys;
import dev.lanyard.token.RateLimiter;
import dev.lanyard.token.TokenMinter;
import dev.lanyard.v1.KeyInfo;
import dev.lanyard.v1.KeyKind;
import dev.lanyard.store.JdbcCaKeyRepository;
import dev.lanyard.store.JdbcIssuedCertificateRepository;
import dev.lanyard.store.JdbcJoinTokenRepository;
import dev.lanyard.store.JdbcRegistrationRepository;
import dev.lanyard.registration.AdminIds;
import dev.lanyard.svid.SvidIssuer;
import dev.lanyard.ca.CrlIssuer;
import dev.lanyard.revocation.CrlPublisher;
import dev.lanyard.revocation.RevocationDocument;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.revocation.Revoker;
import dev.lanyard.store.JdbcRevocationRepository;
import dev.lanyard.metrics.LanyardMetrics;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.rpc.AccessPolicy;
import dev.lanyard.rpc.ClientCertificateVerifier;
import dev.lanyard.rpc.BusyRefusal;
import dev.lanyard.rpc.RequestChain;
import dev.lanyard.rpc.WatchStreamCap;
import dev.lanyard.store.JdbcMintedTokenRepository;
import dev.lanyard.token.TokenIssuer;
import dev.lanyard.token.JwtKeySets;
import dev.lanyard.token.SigningAlgorithm;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.AuditServiceGrpc;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.ContractServiceGrpc;
import dev.lanyard.v1.KeyServiceGrpc;
import dev.lanyard.v1.PolicyServiceGrpc;
import dev.lanyard.v1.TokenServiceGrpc;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Optional;
import java.util.List;
import java.util.function.Supplier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import dev.lanyard.ca.ExpiredCertificatePruner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: reads the configuration, opens the store, loads or creates the CA,
 * wires every capability by hand and serves gRPC (TLS, one port) and HTTP publication.
 */
public final class LanyardServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LanyardServer.class);
    private static final Duration ROTATION_TICK = Duration.ofSeconds(5);
    /** A lease outlives any one step (a key generated, a CA signed) by far; a dead holder blocks no longer. */
    private static final Duration LEASE_TTL = Duration.ofSeconds(30);
    /** How often a replica that cannot LISTEN (H2) reloads what others changed: well within a second. */
    private static final Duration CHANGE_POLL = Duration.ofMillis(250);
    /** Not ready when the store has not answered for this long (the change feed asks it every poll interval). */
    private static final Duration READY_WINDOW = Duration.ofSeconds(5);

    private final AtomicBoolean closed = new AtomicBoolean();
    private final ServerConfig config;
    private final Clock clock;
    private final CryptoProviders crypto;
    private final Database database;
    private final AuditLog audit;
    private final ExpiredCertificatePruner certificatePruner;
    private final IssuingCa ca;
    private final TrustAuthorities authorities;
    private final CaRotation caRotation;
    private final OfflineIntermediates offlineIntermediates;
    private final RootAdditions rootAdditions;
    private final SuccessorWatch successorWatch;
    private final JwtSigningKeys jwtKeys;
    private final JwtKeySets jwtKeySets;
    private final TrustBundles bundles;
    private final Federation federation;
    private final FederatedRevocations federatedRevocations;
    private final RevocationRegistry revocations;
    private final CrlPublisher crls;
    private final RevocationWatchers revocationWatchers;
    private final LanyardMetrics metrics;
    private final ContractRegistry contracts;
    private final PolicyStore policy;
    private PolicyFileWatcher policyWatcher;
    /** The policies applied, kept for every replica (the change feed puts a newer one in force). */
    private final JdbcPolicyRepository policyHistory;
    private final LocalCredentials localCredentials;
    private final ReloadingKeyManager serverKeys;
    private final Optional<DevAdminCredential> adminCredential;
    private final Optional<WebCertificate> webCertificate;
    private final ReloadingKeyManager webKeys;
    private final ChangeFeed changes;
    private final ScheduledExecutorService scheduler;
    private final RecurringTasks tasks;
    /** Federation fetches, on a thread of their own: a slow peer delays only other peers' fetches. */
    private final ScheduledExecutorService federationScheduler;
    private final RecurringTasks federationTasks;
    private final ExecutorService httpExecutor;
    private final CallExecutors callExecutors;
    private final HealthStatusManager health = new HealthStatusManager();
    private final StoreReachability storeReachability;
    private final Readiness readiness;
    private final RequestChain chain;
    private final Server grpc;
    private final GrpcTransport grpcTransport;
    private final HttpPublisher http;

    private LanyardServer(ServerConfig config, Clock clock, SecureRandom random, Database database,
            HttpPublisher http, ExecutorService httpExecutor) throws IOException {
        this.config = config;
        this.http = http;
        this.httpExecutor = httpExecutor;
        this.clock = clock;
        this.crypto = CryptoProviders.select();
        KeyCustody custody;
        Optional<KekRotation> kekRotation = Optional.empty();
        Supplier<String> kekId = () -> "";
        if (config.custody().pkcs11()) {
            ServerConfig.Custody c = config.custody();
            custody = Pkcs11Custody.open(new Pkcs11Custody.Settings(c.module().orElseThrow(), c.slot(), c.slotIndex(),
                    Pkcs11Custody.pin(c.pinEnv(), c.pinFile())), clock);
        } else {
            JdbcSealedKeyRepository sealedKeys = new JdbcSealedKeyRepository(database.dataSource());
            KekRing keks = new KekRing(KekSource.load(config, random, sealedKeys.all()));
            kekId = () -> keks.current().id();
            SoftwareCustody software = new SoftwareCustody(sealedKeys,
                    new PrivateKeySealer(keks, random, crypto), crypto.primary(), crypto.bouncyCastle(), clock);
            kekRotation = Optional.of(new KekRotation(keks, software, new JdbcKekRotations(database.dataSource()),
                    clock));
            kekRotation.get().atStart();
            custody = software;
        }
        LOG.info("CA and JWT keys are in {} custody", custody.name());

        this.database = database;
        dev.lanyard.replica.ClockSkew.warnIfSkewed(database, clock); // replicas decide rotation steps by their clocks
        var registrations = new JdbcRegistrationRepository(database.dataSource());
        AdminIds adminIds = new AdminIds(config.adminIds());
        var joinTokenRepository = new JdbcJoinTokenRepository(database.dataSource());
        var auditLog = new JdbcAuditLog(database.dataSource());
        this.audit = auditLog;
        var issued = new JdbcIssuedCertificateRepository(database.dataSource(), auditLog);
        this.certificatePruner = new ExpiredCertificatePruner(issued, auditLog, clock, config.certificateRetention(),
                config.serverId().toString());

        SerialNumbers serials = new SerialNumbers(random, clock);
        CaKeyStore caKeys = new CaKeyStore(new JdbcCaKeyRepository(database.dataSource()), custody, crypto, clock);
        // Replicas on one database: one creates the CA, and one at a time takes a rotation step.
        JdbcLeases leases = new JdbcLeases(database.dataSource());
        String replica = DatabaseLease.holderId(random);
        this.ca = loadOrCreateCa(new CaBootstrap(caKeys,
                new DatabaseLease(leases, "ca-bootstrap", replica, LEASE_TTL, clock), LEASE_TTL.multipliedBy(3)), serials, custody);
        RotationLease rotationLease = new DatabaseLease(leases, "rotation", replica, LEASE_TTL, clock);
        this.authorities = new TrustAuthorities(List.of(ca));
        // The issuing CA rotates at half its lifetime; it stays trusted while its certificates can live.
        CaGenerator caGenerator = new CaGenerator(custody, clock, serials);
        this.caRotation = new CaRotation(caKeys, caGenerator,
                new RotationPlanner(new RotationPolicy(config.intermediateTtl().dividedBy(2),
                        config.tokens().publishLead(), longestCertificate(config).plus(CertificateAuthority.BACKDATE))),
                clock, new CaRotation.Settings(config.trustDomain(), config.rootTtl(), config.intermediateTtl()),
                issuing -> new CertificateAuthority(issuing, clock, serials,
                        config.crlUrl(issuing.intermediate().keyId())),
                authorities::update, rotationLease);
        // An imported intermediate must outlast its publish lead and the longest certificate it signs.
        this.offlineIntermediates = new OfflineIntermediates(caRotation, caGenerator, custody, clock,
                config.trustDomain(), config.tokens().publishLead().plus(longestCertificate(config))
                        .plus(CertificateAuthority.BACKDATE));
        this.rootAdditions = new RootAdditions(caRotation, caGenerator, clock, config.trustDomain(), config.rootTtl());
        this.successorWatch = new SuccessorWatch(caRotation, clock, config.caSuccessorWarning());
        JoinTokens joinTokens = new JoinTokens(joinTokenRepository, clock, random);

        var revocationLog = new JdbcRevocationRepository(database.dataSource());
        this.revocations = new RevocationRegistry(revocationLog, clock);
        revocations.catchUp();
        this.crls = new CrlPublisher(authorities::issuingCas, revocations, revocationLog, new CrlIssuer(),
                config.revocations().crlValidity(), clock);
        crls.regenerate();
        // Here or on another replica (picked up by the poll): a revoked certificate re-signs the CRLs at once.
        revocations.addListener(batch -> {
            if (batch.stream().anyMatch(CrlPublisher::listsIn)) {
                crls.regenerate();
            }
        });
        // No token outlives its minting by more than the max TTL; verifiers allow at most 5 minutes of skew.
        Revoker revoker = new Revoker(config.trustDomain(), issued, revocationLog, revocations,
                config.tokens().maxTtl().plus(Duration.ofMinutes(5)), audit, clock);
        this.revocationWatchers = new RevocationWatchers(revocations,
                Executors.newSingleThreadScheduledExecutor(daemonThreads("lanyard-revocation-fanout")),
                config.revocations().heartbeatInterval(), clock);

        SvidIssuer issuer = new SvidIssuer(caRotation::active, new CsrValidator(crypto, config.maxCsrBytes()),
                joinTokens, registrations, issued, audit, clock, config.defaultSvidTtl(), revocations, adminIds);

        ServerConfig.Tokens tokens = config.tokens();
        JdbcSigningKeyRepository signingKeys = new JdbcSigningKeyRepository(database.dataSource());
        RotationPlanner jwtPlanner = new RotationPlanner(new RotationPolicy(tokens.keyLifetime(), tokens.publishLead(),
                tokens.maxTtl().plus(Duration.ofMinutes(5))));
        java.util.function.Function<SigningAlgorithm, JwtSigningKeys> keySet = algorithm -> new JwtSigningKeys(
                signingKeys, custody, jwtPlanner, algorithm, random, clock, rotationLease);
        this.jwtKeys = keySet.apply(tokens.algorithm());
        this.jwtKeySets = new JwtKeySets(jwtKeys, keySet, signingKeys.all().stream()
                .map(dev.lanyard.token.StoredSigningKey::algorithm).collect(java.util.stream.Collectors.toSet()));
        jwtKeySets.tick(AuditedSteps.scheduled(audit, clock, "jwt"));
        this.bundles = new TrustBundles(config.trustDomain(), authorities, jwtKeySets::published,
                config.bundleRefreshHint(), new dev.lanyard.store.JdbcBundleSequences(database.dataSource()), clock);
        BundleFetcher federationFetcher = new BundleFetcher(federationWebRoots(), Duration.ofSeconds(5));
        this.federation = new Federation(config.trustDomain(), new JdbcFederationRepository(database.dataSource()),
                federationFetcher, audit, clock, () -> {
                    if (bundles != null) {
                        bundles.refresh();
                    }
                });
        bundles.federateWith(federation::bundles);
        // A federated Lanyard's revocations are polled as often as other replicas' (revocation.poll-interval).
        this.federatedRevocations = new FederatedRevocations(federation, federationFetcher, revocationLog, revocations,
                audit, clock, config.revocations().pollInterval(), config.revocations().federatedMaxLifetime(),
                config.revocations().federatedMaxEntries());
        this.contracts = new ContractRegistry(new JdbcContractRepository(database.dataSource()), clock);
        if (tokens.contractsDir().isPresent()) {
            // Each new version is stored with its record, as a published one is; a file unchanged since
            // the last start stores neither.
            Path contractsDir = tokens.contractsDir().get();
            contracts.loadDirectory(contractsDir, file -> write -> audit.recordWith(version -> new AuditEvent(
                    clock.instant(), "lanyard", "contract.load", "contracts file " + contractsDir.resolve(file),
                    AuditEvent.Outcome.SUCCESS, "version " + version), write::getAsLong));
        }
        this.policyHistory = new JdbcPolicyRepository(database.dataSource());
        this.policy = new PolicyStore();
        policyHistory.latest().ifPresent(policy::apply);
        useExternalAlgorithms();
        TokenMinter minter = new TokenMinter(jwtKeys, config.issuer(), clock, random, tokens.maxTtl());

        this.localCredentials = new LocalCredentials(caRotation::active, crypto, issued, clock, random);
        this.serverKeys = new ReloadingKeyManager(issueServerCredential());
        this.adminCredential = config.adminCredentialDir().map(dir -> new DevAdminCredential(
                new CredentialDirectory(dir), config.adminIds().get(0), config.adminCredentialTtl(), localCredentials,
                () -> caRotation.active().ca().intermediate().certificate(), authorities::roots, crypto));
        adminCredential.ifPresent(DevAdminCredential::keep);

        ClientCertificateVerifier verifier = new ClientCertificateVerifier(
                authorities::intermediates, config.trustDomain(), crypto.primary(), clock);
        TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder()
                .keyManager(serverKeys)
                .trustManager(new ClientCertificateRequest(authorities::intermediates))
                .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL);
        // Answered within the window, or three polls (a long revocation.poll-interval) if that is longer.
        Duration pollInterval = config.revocations().pollInterval();
        this.storeReachability = new StoreReachability(System::nanoTime,
                pollInterval.multipliedBy(3).compareTo(READY_WINDOW) > 0 ? pollInterval.multipliedBy(3) : READY_WINDOW);
        this.readiness = new Readiness(storeReachability, health,
                Executors.newSingleThreadScheduledExecutor(daemonThreads("lanyard-readiness")));
        this.metrics = new LanyardMetrics(revocationWatchers::count, this::keyClocks, () -> Duration.between(
                clock.instant(), caRotation.active().ca().intermediate().certificate().getNotAfter().toInstant()),
                () -> successorWatch.warning().isPresent());
        // Before the gauges read from the store: while it does not answer they are left out, as a scrape
        // would wait for the pool's connection timeout and hide lanyard_store_reachable 0 with it.
        metrics.storeReachable(storeReachability::reachable);
        metrics.storeBytes(database::bytesOnDisk);
        metrics.auditCommits(auditLog::commits, auditLog::appended);
        metrics.httpRefused(http::refusedConnections);
        database.syncCounts().ifPresent(initial -> metrics.storeSyncs(
                () -> database.syncCounts().orElseThrow().commits(), () -> database.syncCounts().orElseThrow().syncs()));
        AdminGrpcService admin = new AdminGrpcService(config.trustDomain(), adminIds, registrations, joinTokens,
                issued, revocations, audit, clock, config.defaultSvidTtl(), config.maxSvidTtl(), config.joinTokenTtl());
        KeyGrpcService keyService = new KeyGrpcService(jwtKeys, x509Keys(), kekRotation,
                bundles::refresh, audit, clock);
        TokenIssuer tokenIssuer = new TokenIssuer(minter, contracts, policy,
                new RateLimiter(clock, tokens.ratePerSecond(), tokens.burst()), revocations,
                new JdbcMintedTokenRepository(auditLog), audit, clock,
                algorithm -> useAlgorithm(algorithm).active());
        AgentSvids agentSvids = new AgentSvids(issuer, new JdbcAgentRepository(database.dataSource()), registrations,
                new RateLimiter(clock, limits().identityPerSecond(), limits().identityBurst()), config.trustDomain(),
                config.agents().svidTtl(), clock);
        java.util.concurrent.ScheduledThreadPoolExecutor pool = new java.util.concurrent.ScheduledThreadPoolExecutor(1,
                daemonThreads("lanyard-scheduler"));
        pool.setExecuteExistingDelayedTasksAfterShutdownPolicy(false); // close() waits only for a running task
        this.scheduler = pool;
        this.tasks = new RecurringTasks(scheduler);
        AgentGrpcService agentService = new AgentGrpcService(nodeAttestation(joinTokens, random), agentSvids,
                tokenIssuer, verifier, authorities, scheduler, config.agents().attestationTimeout());
        java.util.function.Consumer<dev.lanyard.revocation.RevocationTarget.Kind> onRevoked =
                kind -> metrics.revoked(kind.name().toLowerCase(java.util.Locale.ROOT));
        ContractGrpcService contractService = new ContractGrpcService(contracts, audit, clock);
        LoginLinks loginLinks = new LoginLinks(new JdbcLoginLinkRepository(database.dataSource()), clock, random);
        if (config.console().enabled()) {
            // The console shows what the admin RPCs would answer and changes things through the same services.
            http.application("/console", new ConsoleApp(new ConsoleSources(keyService::snapshot,
                    () -> caRotation.active().ca().intermediate().certificate().getNotAfter().toInstant(),
                    registrations, issued, revocations, revoker, onRevoked, audit, contractService::snapshot,
                    () -> policy.current().toProto(), clock), loginLinks,
                    new Sessions(clock, random, config.console().sessionTtl()), servesTls(config)));
        }
        List<ServerServiceDefinition> services = List.of(
                new ConsoleGrpcService(config.console().enabled() ? Optional.of(loginLinks) : Optional.empty(),
                        consoleBase(config), new AuditedCall(audit, clock)).bindService(),
                agentService.bindService(),
                new CertificateGrpcService(issuer, authorities, metrics).bindService(),
                new TrustBundleGrpcService(bundles).bindService(),
                new TokenGrpcService(tokenIssuer, metrics).bindService(),
                new RevocationGrpcService(revoker, revocations, revocationWatchers, new AuditedCall(audit, clock),
                        onRevoked).bindService(),
                admin.bindService(),
                keyService.bindService(),
                contractService.bindService(),
                new PolicyGrpcService(policy, policyHistory, audit, clock, this::useExternalAlgorithms).bindService(),
                new FederationGrpcService(federation, audit, clock).bindService(),
                new AuditGrpcService(audit, new AuditedCall(audit, clock),
                        Executors.newSingleThreadScheduledExecutor(daemonThreads("lanyard-audit-follow"))).bindService(),
                new BackupGrpcService(database, backupHeader(config, kekId),
                        Executors.newSingleThreadExecutor(daemonThreads("lanyard-backup")), audit, clock).bindService(),
                health.getHealthService().bindService(),
                ProtoReflectionServiceV1.newInstance().bindService());
        AccessPolicy access = accessPolicy(adminIds, id -> registrations.find(id).isPresent(), issued::issuedToWorkload);
        access.checkCovers(services);
        ServerConfig.CallLimits limits = config.callLimits();
        GrpcLimits grpcLimits = config.grpcLimits();
        BusyRefusal busy = new BusyRefusal(grpcLimits.maxBlockingCalls(), grpcLimits.maxQueuedBlockingCalls(), audit,
                metrics, clock);
        this.callExecutors = new CallExecutors(!config.custody().pkcs11(), grpcLimits.maxBlockingCalls(),
                grpcLimits.maxQueuedBlockingCalls(), busy);
        this.grpcTransport = new GrpcTransport(new GrpcConnectionCap(grpcLimits.maxConnections(),
                grpcLimits.maxConnectionsPerSource(), metrics, clock));
        NettyServerBuilder grpcBuilder = grpcTransport.applyTo(grpcLimits.applyTo(NettyServerBuilder.forAddress(
                new InetSocketAddress(config.grpcHost(), config.grpcPort()), tls.build())));
        services.forEach(grpcBuilder::addService);
        GrpcLimits.AnonymousInbound anonymous = grpcLimits.anonymousInbound();
        grpcBuilder.addStreamTracerFactory(InboundBudget.anonymous(access.openToAnyone(services),
                Math.min(anonymous.maxMessageBytes(), grpcLimits.maxMessageBytes()), anonymous.maxPerSourceBytes(),
                anonymous.maxTotalBytes(), metrics, clock));
        grpcBuilder.addStreamTracerFactory(InboundBudget.perIdentity(access.openToAnyone(services),
                grpcLimits.maxMessageBytes(), grpcLimits.inbound().maxPerIdentityBytes(),
                grpcLimits.inbound().maxTotalBytes(), metrics, clock));
        this.chain = new RequestChain(verifier, revocations, access, new RequestChain.Limits(
                limits.identityPerSecond(), limits.identityBurst(), limits.anonymousPerSecond(),
                limits.anonymousBurst()), audit, metrics, clock);
        this.grpc = grpcBuilder
                .directExecutor() // for the calls that never block; the others go to a pool
                .callExecutor(callExecutors)
                .intercept(new WatchStreamCap(grpcLimits.maxWatchStreamsPerIdentity(), audit, metrics, clock)) // after the chain
                .intercept(chain)
                .intercept(busy) // first: the calls the pool had no room for never reach the chain
                .build();

        this.webCertificate = config.publication().webCertificate().map(certificate ->
                new WebCertificate(certificate, config.publication().webKey().orElseThrow(), crypto));
        this.webKeys = webCertificate.map(web -> new ReloadingKeyManager(web.load())).orElse(null);
        switch (config.publication().tls()) {
            case SPIFFE -> http.tls(TlsContexts.server(serverKeys));
            case WEB -> http.tls(TlsContexts.server(webKeys));
            case NONE -> { } // plain HTTP, as configured
        }
        Duration maxAge = config.bundleRefreshHint();
        String jwksUri = config.issuer() + "/.well-known/jwks.json";
        Supplier<byte[]> discovery = () -> OpenIdConfiguration.build(config.issuer(), jwksUri,
                jwtKeySets.algorithms().stream().map(a -> a.jws().getName()).toList()).getBytes(StandardCharsets.UTF_8);
        http.route("/.well-known/jwks.json", () -> new HttpPublisher.Document("application/jwk-set+json",
                        bundles.current().jwksJson(), maxAge))
                .route("/.well-known/openid-configuration", () -> new HttpPublisher.Document("application/json",
                        discovery.get(), maxAge))
                .route("/bundle", () -> new HttpPublisher.Document("application/json",
                        bundles.current().spiffeJson(), maxAge))
                .route("/bundle.pem", () -> new HttpPublisher.Document("application/x-pem-file",
                        Pem.certificates(authorities.roots()).getBytes(StandardCharsets.US_ASCII), maxAge))
                .route("/revocations", () -> new HttpPublisher.Document("application/json",
                        RevocationDocument.of(config.trustDomain(), revocations.documentSequence(), revocations.inForce())
                                .json(), Duration.ZERO))
                .route("/crl", () -> crls.forIssuer(caRotation.active().ca().intermediate().keyId())
                        .map(this::crlDocument).orElse(null))
                .routePrefix("/crl/", keyId -> crls.forIssuer(keyId).map(this::crlDocument))
                // Liveness: the process answers. Not the store: a restart would not bring PostgreSQL back.
                .route("/healthz", () -> new HttpPublisher.Document("text/plain",
                        "ok\n".getBytes(StandardCharsets.US_ASCII), Duration.ZERO))
                .route("/readyz", readiness::document); // readiness: the store answers
        Supplier<HttpPublisher.Document> scrape = () -> new HttpPublisher.Document(metrics.contentType(),
                metrics.scrape(), Duration.ZERO);
        switch (config.publication().metrics()) {
            case PUBLIC -> http.route("/metrics", scrape);
            case LOOPBACK -> http.route("/metrics", java.net.InetAddress::isLoopbackAddress, scrape);
            case OFF -> { } // not served: 404 like any other absent path
        }
        java.util.concurrent.ScheduledThreadPoolExecutor federationPool =
                new java.util.concurrent.ScheduledThreadPoolExecutor(1, daemonThreads("lanyard-federation"));
        federationPool.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.federationScheduler = federationPool;
        this.federationTasks = new RecurringTasks(federationScheduler);
        this.changes = new ChangeFeed(database, CHANGE_POLL, config.revocations().pollInterval(),
                storeReachability)
                .on(ChangeFeed.Topic.KEYS, jwtKeySets::refresh).on(ChangeFeed.Topic.KEYS, caRotation::refresh)
                .on(ChangeFeed.Topic.KEYS, bundles::refresh).on(ChangeFeed.Topic.KEYS, crls::regenerateIfDue)
                .on(ChangeFeed.Topic.CONTRACTS, contracts::refreshIfChanged)
                .on(ChangeFeed.Topic.POLICY, new PolicyReload(policy, policyHistory))
                .on(ChangeFeed.Topic.POLICY, this::useExternalAlgorithms)
                .on(ChangeFeed.Topic.REVOCATIONS, revocations::catchUp)
                .on(ChangeFeed.Topic.FEDERATION, federation::reload);
    }

    /** Starts a server with the system clock. */
    public static LanyardServer start(ServerConfig config) throws IOException {
        return start(config, Clock.systemUTC());
    }

    /** Starts a server with the given clock (tests move it). */
    public static LanyardServer start(ServerConfig config, Clock clock) throws IOException {
        createPrivateDirectory(config.dataDir());
        Database database = config.databaseUrl().isPresent()
                ? Database.open(config.databaseUrl().get(), config.databaseUser(), config.databasePassword())
                : EmbeddedStore.of(config.dataDir(), config.embeddedStore()).open(config.dataDir());
        // HTTP binds first: with http.port=0 the URLs the server publishes must name the port it got.
        ExecutorService httpExecutor = Executors.newFixedThreadPool(4, daemonThreads("lanyard-http"));
        LanyardServer server;
        HttpPublisher http = null;
        try {
            http = new HttpPublisher(config.httpHost(), config.httpPort(), config.httpLimits(), httpExecutor, clock);
            server = new LanyardServer(config.withBoundHttpPort(http.port()), clock, new SecureRandom(), database, http,
                    httpExecutor);
        } catch (IOException | RuntimeException e) {
            // a server that could not be built must not keep the database locked or the port bound
            database.close();
            if (http != null) {
                http.close();
            }
            httpExecutor.shutdownNow();
            throw e;
        }
        try {
            server.grpc.start();
            server.http.start();
            server.scheduleServerRenewal();
            server.scheduleRotation();
            server.scheduleRevocationUpkeep();
            server.changes.start();
            server.scheduleCertificatePruning();
            server.watchPolicyFile(); // refuses a policy file the server must not start with
            server.scheduleWebCertificateReload();
        } catch (IOException | RuntimeException e) {
            server.close(); // a server that does not start must not keep serving, nor hold its ports and store
            throw e;
        }
        // Revocations end the streams of the revoked as they are recorded, after the revocation watchers
        // were sent them (the watchers' listener was added first and queues its broadcast on the same
        // thread); expiry is looked for every second.
        server.revocations.addListener(batch -> server.revocationWatchers.afterFanout(server.chain::closeLapsedCalls));
        server.tasks.every(Duration.ofSeconds(1), Duration.ofSeconds(1), "closing calls of expired certificates",
                server.chain::closeLapsedCalls);
        // Federation fetches wait on foreign endpoints (each at most BundleFetcher's timeout): not on the
        // scheduler that rotates keys, renews the server certificate and closes lapsed calls.
        server.federationTasks.every(Duration.ofSeconds(1), Duration.ofSeconds(1), "federated bundle refresh",
                server.federation::refreshDue);
        Duration revocationPoll = config.revocations().pollInterval();
        server.federationTasks.every(revocationPoll, revocationPoll, "federated revocations",
                server.federatedRevocations::pollDue);
        server.readiness.start(); // SERVING, NOT_SERVING while the store does not answer
        LOG.info("lanyard serving trust domain {}: gRPC on {}:{}, {} on {}:{}, issuer {}", config.trustDomain(),
                config.grpcHost(), server.grpcPort(), config.publication().tls() == ServerConfig.PublicationTls.NONE
                        ? "HTTP" : "HTTPS (" + config.publication().tls().name().toLowerCase(java.util.Locale.ROOT) + ")",
                config.httpHost(), server.httpPort(), server.config().issuer());
        return server;
    }

    public int grpcPort() {
        return grpc.getPort();
    }

    public int httpPort() {
        return http.port();
    }

    public ServerConfig config() {
        return config;
    }

    /** The SHA-256 fingerprint of the root, "sha256:hex": what workloads pin before they hold the bundle. */
    public String rootFingerprint() {
        return "sha256:" + Pem.sha256Fingerprint(ca.root().certificate());
    }

    public List<X509Certificate> trustBundle() {
        return authorities.roots();
    }

    /** The certificate the server currently presents. */
    public X509Certificate serverCertificate() {
        return serverKeys.credential().leaf();
    }

    public String cryptoProvider() {
        return crypto.description();
    }

    public void awaitTermination() throws InterruptedException {
        grpc.awaitTermination();
    }

    /** Graceful: stop taking calls, let running ones finish for a few seconds, then force. Once: again, nothing. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return; // a second close (a shutdown hook after a test's, say) finds every executor already gone
        }
        if (readiness != null) {
            readiness.close();
        }
        health.enterTerminalState();
        if (changes != null) {
            changes.close();
        }
        bundles.closeWatchers();
        if (revocationWatchers != null) {
            revocationWatchers.close();
        }
        if (policyWatcher != null) {
            policyWatcher.close();
        }
        grpc.shutdown();
        try {
            if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
                grpc.shutdownNow();
                grpc.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            grpc.shutdownNow();
            Thread.currentThread().interrupt();
        }
        callExecutors.close();
        grpcTransport.close();
        if (http != null) {
            http.close();
        }
        if (httpExecutor != null) {
            httpExecutor.shutdownNow();
        }
        // Let a running task (a federation fetch, an audit write) end before the database closes:
        // interrupting H2 mid-write closes its file channel under it. Both end together (a fetch
        // ends within its timeout).
        if (federationScheduler != null) {
            federationScheduler.shutdown();
        }
        if (scheduler != null) {
            scheduler.shutdown();
        }
        awaitEnd(federationScheduler);
        awaitEnd(scheduler);
        database.close();
    }

    private static void awaitEnd(ScheduledExecutorService executor) {
        if (executor == null) {
            return;
        }
        try {
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private HttpPublisher.Document crlDocument(CrlPublisher.Crl crl) {
        return new HttpPublisher.Document("application/pkix-crl", crl.der(), crls.maxAge());
    }

    private Credential issueServerCredential() {
        return localCredentials.issue(config.serverId(), config.serverDnsNames(), config.serverCertificateTtl(),
                authorities.roots());
    }

    /** An operator replaces the web certificate's files; the next handshakes use the new pair. */
    private void scheduleWebCertificateReload() {
        webCertificate.ifPresent(web -> {
            Duration interval = config.publication().reloadInterval();
            tasks.every(interval, interval, "web certificate reload", () -> {
                try {
                    web.reloadIfChanged().ifPresent(credential -> {
                        webKeys.update(credential);
                        LOG.info("publication now serves the web certificate {}", credential);
                        audit.record(new AuditEvent(clock.instant(), "lanyard", "publication.web-certificate",
                                credential.leaf().getSubjectX500Principal().getName(), AuditEvent.Outcome.SUCCESS,
                                "serial " + credential.leaf().getSerialNumber().toString(16)));
                    });
                } catch (IllegalArgumentException e) {
                    LOG.error("the web certificate files changed but do not load, the previous certificate keeps"
                            + " serving: {}", e.getMessage());
                }
            });
        });
    }

    /** Renews the server's own certificate at half-life, forever; a failure is retried in a minute. */
    private void scheduleServerRenewal() {
        tasks.once(localCredentials.renewalDelay(serverKeys.credential()), () -> {
            try {
                serverKeys.update(issueServerCredential());
                LOG.info("renewed the server certificate, serial {}",
                        serverKeys.credential().leaf().getSerialNumber().toString(16));
                scheduleServerRenewal();
            } catch (RuntimeException e) {
                if (scheduler.isShutdown()) {
                    return; // closing: the database may be gone already
                }
                LOG.error("could not renew the server certificate; retrying in 1 minute", e);
                tasks.once(Duration.ofMinutes(1), this::scheduleServerRenewal);
            }
        });
    }

    /**
     * Every few seconds: let the planners rotate JWT keys and the issuing CA, and republish the
     * bundle if anything changed. Cheap when nothing is due (two small queries).
     */
    private void scheduleRotation() {
        tasks.every(ROTATION_TICK, ROTATION_TICK, "key rotation tick", this::rotateNow);
    }

    /** Expired certificate records past the retention window go once an hour (the first run a minute after start). */
    private void scheduleCertificatePruning() {
        tasks.every(Duration.ofMinutes(1), Duration.ofHours(1), "pruning expired certificate records",
                certificatePruner::run);
    }

    /** Keeps the CRLs fresh and forgets revocations of what has expired (the change feed brings new ones). */
    private void scheduleRevocationUpkeep() {
        tasks.every(Duration.ofMinutes(1), Duration.ofMinutes(1), "CRL upkeep", () -> {
            revocations.pruneExpired();
            crls.regenerateIfDue();
        });
    }

    /** The chain every gRPC call passes (tests count the calls it keeps open). */
    public RequestChain requestChain() {
        return chain;
    }

    /** The revocations this replica holds in memory, following the store (tests hold one back). */
    public RevocationRegistry revocationRegistry() {
        return revocations;
    }

    /** The audit trail this server writes. */
    public AuditLog audit() {
        return audit;
    }

    /** The published CRLs (tests and benchmarks read them). */
    public CrlPublisher crls() {
        return crls;
    }

    /** One rotation tick now (the scheduler runs it; tests that move the clock call it). */
    public void rotateNow() {
        try {
            useExternalAlgorithms();
            jwtKeySets.tick(AuditedSteps.scheduled(audit, clock, "jwt"));
            caRotation.tick(AuditedSteps.scheduled(audit, clock, "x509"));
            bundles.refresh();
            crls.regenerateIfDue(); // a newly trusted CA gets its (empty) CRL before it signs anything
        } catch (RuntimeException e) {
            LOG.error("key rotation tick failed; retrying at the next tick", e);
        }
        try {
            adminCredential.ifPresent(DevAdminCredential::keep); // outlives its lifetime and CA rotations
        } catch (RuntimeException e) {
            LOG.error("could not write the admin credential; retrying at the next tick", e);
        }
    }

    /** The roots that authenticate https_web bundle endpoints: the operator's file, or the JDK's. */
    private Optional<List<X509Certificate>> federationWebRoots() throws IOException {
        if (config.federationWebRoots().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Pem.parseCertificates(Files.readString(config.federationWebRoots().get())));
    }

    /** A key set for every algorithm the policy's external audiences are signed with. */
    private void useExternalAlgorithms() {
        for (SigningAlgorithm algorithm : policy.current().externalAlgorithms()) {
            useAlgorithm(algorithm);
        }
    }

    /** The key set of {@code algorithm}; made, audited and published at once if it is new. */
    private JwtSigningKeys useAlgorithm(SigningAlgorithm algorithm) {
        List<JwtKeySets.Step> steps = new ArrayList<>();
        JwtSigningKeys set = jwtKeySets.use(algorithm, AuditedSteps.scheduled(audit, clock, "jwt"), steps);
        if (!steps.isEmpty()) {
            if (bundles != null) {
                bundles.refresh();
            }
        }
        return set;
    }

    /** The active JWT key and issuing CA: how long they have signed and when the next one takes over. */
    private List<LanyardMetrics.KeyClock> keyClocks() {
        java.time.Instant now = clock.instant();
        List<LanyardMetrics.KeyClock> clocks = new ArrayList<>();
        jwtKeySets.published().stream().filter(k -> k.status() == dev.lanyard.rotation.KeyStatus.ACTIVE).forEach(k -> {
            java.time.Instant since = k.activatedAt().orElse(k.createdAt());
            clocks.add(new LanyardMetrics.KeyClock("jwt", k.kid(), Duration.between(since, now),
                    Duration.between(now, since.plus(config.tokens().keyLifetime()))));
        });
        if (!storeReachability.reachable()) {
            return clocks; // the intermediates are read from the store: a scrape must not wait for it
        }
        caRotation.intermediates().stream().filter(k -> k.status() == dev.lanyard.rotation.KeyStatus.ACTIVE).forEach(k -> {
            java.time.Instant since = k.activatedAt().orElse(k.createdAt());
            clocks.add(new LanyardMetrics.KeyClock("x509", k.id(), Duration.between(since, now),
                    Duration.between(now, caRotation.planner().end(caRotation.slot(k)))));
        });
        return clocks;
    }

    private void watchPolicyFile() throws IOException {
        Optional<Path> file = config.tokens().policyFile();
        if (file.isPresent()) {
            String target = "policy file " + file.get();
            PolicyFileWatcher.Listener auditing = new PolicyFileWatcher.Listener() {
                @Override
                public void applied(long version) {
                    dev.lanyard.v1.Policy applied = policy.current().toProto();
                    // Stored as an applied one is, so the other replicas put it in force too. Alone, not in the
                    // record's transaction: a replica that read the same file first may have stored it, and on
                    // PostgreSQL the refused duplicate would abort the record with it.
                    boolean stored = applied.getVersion() == version
                            && policyHistory.save(applied, "lanyard (" + target + ")", clock.instant());
                    audit.record(new AuditEvent(clock.instant(), "lanyard", "policy.apply", target,
                            AuditEvent.Outcome.SUCCESS, "version " + version + (stored ? ", stored" : "")));
                }

                @Override
                public void refused(String reason) {
                    audit.record(new AuditEvent(clock.instant(), "lanyard", "policy.apply", target,
                            AuditEvent.Outcome.REFUSED, reason));
                }
            };
            policyWatcher = new PolicyFileWatcher(file.get(), policy, scheduler, Duration.ofSeconds(2), clock, auditing);
            policyWatcher.start();
        }
    }

    private KeyGrpcService.X509Keys x509Keys() {
        return new KeyGrpcService.X509Keys() {
            @Override
            public List<KeyInfo> list() {
                List<KeyInfo> keys = new ArrayList<>();
                for (StoredCaKey k : caRotation.intermediates()) {
                    KeyInfo.Builder info = KeyInfo.newBuilder().setKeyId(k.id()).setKind(KeyKind.KEY_KIND_X509)
                            .setStatus(k.status().name())
                            .setAlgorithm(signatureAlgorithm(caRotation.store().certificate(k).getPublicKey()))
                            .setCreatedAt(Protos.timestamp(k.createdAt()))
                            .setNotAfter(Protos.timestamp(k.notAfter()));
                    k.activatedAt().ifPresent(t -> info.setActivatedAt(Protos.timestamp(t)));
                    k.retiredAt().ifPresent(t -> info.setRetiredAt(Protos.timestamp(t)));
                    keys.add(info.build());
                }
                return keys;
            }

            @Override
            public Optional<String> forceStep(StepLog log) {
                return caRotation.forceStep(log);
            }

            @Override
            public dev.lanyard.rotation.RotationPlanner planner() {
                return caRotation.planner();
            }

            @Override
            public Optional<String> warning() {
                return successorWatch.warning();
            }

            @Override
            public OfflineIntermediates.Prepared prepare(ChangeRecord record) throws Refusal {
                return offlineIntermediates.prepare(record);
            }

            @Override
            public StoredCaKey importIntermediate(String pem, ChangeRecord record) throws Refusal {
                return offlineIntermediates.importCertificate(pem, record);
            }

            @Override
            public CaCertificate addRoot(Optional<String> pem, ChangeRecord record) throws Refusal {
                return pem.isPresent() ? rootAdditions.add(pem.get(), record) : rootAdditions.generate(record);
            }

            @Override
            public List<dev.lanyard.rotation.KeySlot> slots() {
                return caRotation.intermediates().stream()
                        .filter(k -> k.status() != dev.lanyard.rotation.KeyStatus.DROPPED).map(caRotation::slot).toList();
            }

            @Override
            public List<X509Certificate> roots() {
                return authorities.roots();
            }
        };
    }

    /** What an issuing CA's key signs with: generated ones are P-256; an imported one may be P-384 or RSA. */
    private static String signatureAlgorithm(java.security.PublicKey key) {
        if (key instanceof java.security.interfaces.ECKey ec) {
            return ec.getParams().getCurve().getField().getFieldSize() > 256 ? "ES384" : "ES256";
        }
        return key.getAlgorithm().equals("RSA") ? "RS256" : key.getAlgorithm();
    }

    /** The WatchRevocations fan-out (tests look at its flow control). */
    RevocationWatchers revocationWatchers() {
        return revocationWatchers;
    }

    /** The JWT signing keys (tests look at which key signs). */
    public JwtSigningKeys jwtKeys() {
        return jwtKeys;
    }

    public TrustBundles bundles() {
        return bundles;
    }

    public CaRotation caRotation() {
        return caRotation;
    }

    /** Issues a new server certificate now, as the scheduled renewal does at half-life (for tests). */
    void renewServerCertificateNow() {
        serverKeys.update(issueServerCredential());
    }

    /**
     * The longest certificate an intermediate signs: a workload's, an agent's or the server's own. A retired
     * intermediate (and with the last one under it, its root) stays trusted that long, so a root rotation
     * never strands the server's own certificate.
     */
    private static Duration longestCertificate(ServerConfig config) {
        return java.util.stream.Stream.of(config.maxSvidTtl(), config.serverCertificateTtl(), config.agents().svidTtl())
                .max(Duration::compareTo).orElseThrow();
    }

    /**
     * Where the console is for the admin's browser: on a loopback bind, the bind address itself (over
     * https:// when the HTTP listener serves TLS); on any other (TLS only), public-url's scheme and
     * authority, the name the certificate and the admin's browser know (never 0.0.0.0).
     */
    private static String consoleBase(ServerConfig config) {
        if (!ServerConfig.isLoopback(config.httpHost())) {
            return config.publicUrl().getScheme() + "://" + config.publicUrl().getRawAuthority();
        }
        String host = config.httpHost().contains(":") && !config.httpHost().startsWith("[")
                ? "[" + config.httpHost() + "]" : config.httpHost();
        return (servesTls(config) ? "https://" : "http://") + host + ":" + config.httpPort();
    }

    /** Whether the HTTP listener (JWKS, bundle, console) serves TLS: the console's cookie is then Secure. */
    private static boolean servesTls(ServerConfig config) {
        return config.publication().tls() != ServerConfig.PublicationTls.NONE;
    }

    /** Who may call what: the request chain's authorization, as data. */
    private static AccessPolicy accessPolicy(AdminIds adminIds,
            java.util.function.Predicate<dev.lanyard.spiffe.SpiffeId> registered,
            java.util.function.Predicate<String> workloadCertificate) {
        return AccessPolicy.builder(adminIds, registered, workloadCertificate)
                .service(ConsoleServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(CertificateServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.WORKLOAD)
                .method(CertificateServiceGrpc.getIssueCertificateMethod(), AccessPolicy.Access.ANYONE)
                .service(TrustBundleServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ANYONE)
                .service(TokenServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.WORKLOAD)
                .service(RevocationServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .method(RevocationServiceGrpc.getWatchRevocationsMethod(), AccessPolicy.Access.AUTHENTICATED)
                .service(AdminServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(KeyServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(ContractServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(PolicyServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(dev.lanyard.v1.FederationServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(AuditServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(dev.lanyard.v1.BackupServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.ADMIN)
                .service(AgentServiceGrpc.getServiceDescriptor(), AccessPolicy.Access.AGENT)
                .method(AgentServiceGrpc.getAttestAgentMethod(), AccessPolicy.Access.ANYONE)
                .service(HealthGrpc.getServiceDescriptor(), AccessPolicy.Access.ANYONE)
                .service(ServerReflectionGrpc.getServiceDescriptor(), AccessPolicy.Access.ANYONE)
                .build();
    }

    /**
     * What each backup says of this server: its trust domain, where its keys are, the current KEK's id,
     * and a passphrase KEK's salt (kek.salt), without which the restored server could not derive the KEK.
     */
    private static Supplier<dev.lanyard.v1.BackupHeader> backupHeader(ServerConfig config, Supplier<String> kekId) {
        return () -> {
            dev.lanyard.v1.BackupHeader.Builder header = dev.lanyard.v1.BackupHeader.newBuilder()
                    .setTrustDomain(config.trustDomain().toString())
                    .setCustody(config.custody().pkcs11() ? "pkcs11" : "software").setKekId(kekId.get());
            Path salt = config.dataDir().resolve(KekSource.PASSPHRASE_SALT_FILE);
            if (config.kekPassphraseEnv().isPresent() && Files.exists(salt)) {
                try {
                    header.setKekSalt(com.google.protobuf.ByteString.copyFrom(Files.readAllBytes(salt)));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException("cannot read " + salt, e);
                }
            }
            return header.build();
        };
    }

    private ServerConfig.CallLimits limits() {
        return config.callLimits();
    }

    /** Join tokens always; x509pop and k8s_psat when configured. */
    private NodeAttestation nodeAttestation(JoinTokens joinTokens, SecureRandom random) throws IOException {
        List<NodeAttestor> attestors = new ArrayList<>(List.of(new JoinTokenNodeAttestor(joinTokens)));
        ServerConfig.Agents agents = config.agents();
        if (!agents.x509popRoots().isEmpty()) {
            List<X509Certificate> roots = new ArrayList<>();
            for (Path file : agents.x509popRoots()) {
                roots.addAll(Pem.parseCertificates(Files.readString(file)));
            }
            attestors.add(new X509PopAttestor(roots, clock, random));
        }
        if (agents.psat().isPresent()) {
            ServerConfig.Psat psat = agents.psat().get();
            attestors.add(new PsatAttestor(new PsatAttestor.Cluster(psat.cluster(), psat.issuer(), psat.audience(),
                    new HashSet<>(psat.allowedServiceAccounts()), psat.maxTokenLifetime()),
                    PsatKeys.source(psat.jwksFile(), psat.jwksUrl(), psat.jwksCaFile()), clock));
        }
        return new NodeAttestation(attestors);
    }

    private IssuingCa loadOrCreateCa(CaBootstrap bootstrap, SerialNumbers serials, KeyCustody custody) {
        String action = config.caImport().isPresent() ? "ca.import" : "ca.generate";
        CaBootstrap.Outcome outcome = bootstrap.loadOrCreate(() -> {
            if (config.caImport().isEmpty()) {
                return new CaGenerator(custody, clock, serials)
                        .generate(config.trustDomain(), config.rootTtl(), config.intermediateTtl());
            }
            ServerConfig.CaImport files = config.caImport().get();
            try {
                return CaImporter.fromPem(Files.readString(files.rootCertificate()),
                        Files.readString(files.intermediateCertificate()), Files.readString(files.intermediateKey()),
                        custody, crypto, clock);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot read the CA to import: " + e.getMessage(), e);
            }
        }, ca -> new ChangeRecord(audit, new AuditEvent(clock.instant(), "lanyard", action,
                "root sha256:" + Pem.sha256Fingerprint(ca.root().certificate()), AuditEvent.Outcome.SUCCESS, "")));
        String root = Pem.sha256Fingerprint(outcome.ca().root().certificate());
        if (!outcome.created()) {
            LOG.info("loaded CA {} from the store", root);
            return outcome.ca();
        }
        LOG.info("{}: new CA with root sha256:{}", action, root);
        return outcome.ca();
    }

    private static void createPrivateDirectory(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String name) {
        return runnable -> {
            Thread t = new Thread(runnable, name);
            t.setDaemon(true);
            return t;
        };
    }
}
