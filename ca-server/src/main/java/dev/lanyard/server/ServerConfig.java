package dev.lanyard.server;

import dev.lanyard.publication.HttpLimits;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.store.Database;
import dev.lanyard.store.EmbeddedStore;
import dev.lanyard.token.SigningAlgorithm;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * Everything a server needs to start, with a sensible default for every setting. Loaded from a
 * Java properties file ({@link #load(Path)}) or made for a dev server ({@link #dev}); see
 * {@code docs/server.properties} for the documented full list.
 */
public record ServerConfig(
        String trustDomain,
        Path dataDir,
        String grpcHost,
        int grpcPort,
        String httpHost,
        int httpPort,
        URI publicUrl,
        Optional<String> databaseUrl,
        String databaseUser,
        String databasePassword,
        Optional<EmbeddedStore> embeddedStore,
        Path kekFile,
        Optional<String> kekPassphraseEnv,
        boolean generateCa,
        Optional<CaImport> caImport,
        Duration rootTtl,
        Duration intermediateTtl,
        Duration defaultSvidTtl,
        Duration maxSvidTtl,
        Duration joinTokenTtl,
        List<SpiffeId> adminIds,
        Optional<Path> adminCredentialDir,
        Duration adminCredentialTtl,
        List<String> serverDnsNames,
        Duration serverCertificateTtl,
        int maxCsrBytes,
        Duration bundleRefreshHint,
        Tokens tokens,
        Revocations revocations,
        CallLimits callLimits,
        LogFormat logFormat,
        HttpLimits httpLimits,
        GrpcLimits grpcLimits,
        Duration certificateRetention,
        Agents agents,
        Console console,
        Custody custody,
        Publication publication,
        Optional<Path> federationWebRoots,
        Optional<Duration> caSuccessorWarning) {

    /**
     * Where CA and JWT private keys live: software custody (sealed under the KEK, the default) or a
     * PKCS#11 token (module, slot by id or index, PIN from an environment variable or a file).
     */
    public record Custody(boolean pkcs11, Optional<Path> module, Optional<Long> slot, int slotIndex,
            Optional<String> pinEnv, Optional<Path> pinFile) {

        public Custody {
            if (pkcs11 && module.isEmpty()) {
                throw new IllegalArgumentException("custody=pkcs11 needs pkcs11.module (the token's PKCS#11 library)");
            }
            if (pkcs11 && pinEnv.isEmpty() && pinFile.isEmpty()) {
                throw new IllegalArgumentException("custody=pkcs11 needs pkcs11.pin-env or pkcs11.pin-file");
            }
        }

        static Custody software() {
            return new Custody(false, Optional.empty(), Optional.empty(), 0, Optional.empty(), Optional.empty());
        }
    }

    /** How the server writes its log: lines for people, or one JSON object per line for collectors. */
    public enum LogFormat { TEXT, JSON }

    /**
     * Token minting and JWT key rotation.
     *
     * @param publishLead how long a new JWT key or CA is published before it signs; at least twice the
     *                    bundle refresh hint, so every verifier's cache has seen it
     */
    public record Tokens(SigningAlgorithm algorithm, Duration maxTtl, double ratePerSecond, int burst,
            Duration keyLifetime, Duration publishLead, Optional<Path> contractsDir, Optional<Path> policyFile) {
    }

    /**
     * Call rates the request chain allows each replica: per SPIFFE ID for callers with a certificate,
     * per source address for calls without one (bootstrap). With N replicas a caller may reach N times these.
     */
    public record CallLimits(double identityPerSecond, int identityBurst, double anonymousPerSecond,
            int anonymousBurst) {
    }

    /**
     * Revocation publication.
     *
     * @param heartbeatInterval how often a quiet WatchRevocations stream gets a heartbeat
     * @param crlValidity       a CRL's nextUpdate after its thisUpdate; regenerated at half of it
     * @param pollInterval      how often a replica listening for other replicas' changes (PostgreSQL) also
     *                          reloads everything, in case a notification was lost; also how often each
     *                          federated Lanyard's revocations are asked for
     * @param federatedMaxLifetime a federated Lanyard's certificate or token revocation is held at most
     *                          this long after it is taken in, whatever expiry it names
     * @param federatedMaxEntries the most certificate and token revocations held of one federated Lanyard
     */
    public record Revocations(Duration heartbeatInterval, Duration crlValidity, Duration pollInterval,
            Duration federatedMaxLifetime, int federatedMaxEntries) {
        public Revocations {
            if (heartbeatInterval.compareTo(Duration.ofMillis(100)) < 0) {
                throw new IllegalArgumentException("revocation.heartbeat-interval must be at least 100ms");
            }
            if (crlValidity.compareTo(Duration.ofMinutes(2)) < 0) {
                throw new IllegalArgumentException("revocation.crl-validity must be at least 2m");
            }
            if (pollInterval.compareTo(Duration.ofMillis(100)) < 0) {
                throw new IllegalArgumentException("revocation.poll-interval must be at least 100ms");
            }
            if (federatedMaxEntries < 1) {
                throw new IllegalArgumentException("federation.revocation-max-entries must be at least 1");
            }
        }
    }

    /**
     * Node agents: the lifetime of agent SVIDs and how nodes may attest (join tokens always; x509pop
     * when roots are configured; k8s_psat when a cluster is).
     */
    public record Agents(Duration svidTtl, Duration attestationTimeout, List<Path> x509popRoots, Optional<Psat> psat) {
        public Agents {
            x509popRoots = List.copyOf(x509popRoots);
            if (attestationTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("agent.attestation-timeout must be at least 1s");
            }
        }
    }

    /**
     * One Kubernetes cluster whose projected service-account tokens attest agents: its OIDC issuer,
     * its JWKS (a file, or an https URL fetched and cached, its TLS checked against {@code jwksCaFile}
     * when set, else the JDK's roots), the audience the token must carry, the "namespace:service-account"
     * pairs allowed to attest, and the longest a token may live from iat to exp.
     */
    public record Psat(String cluster, String issuer, Optional<Path> jwksFile, Optional<URI> jwksUrl,
            Optional<Path> jwksCaFile, String audience, List<String> allowedServiceAccounts,
            Duration maxTokenLifetime) {
        public Psat {
            allowedServiceAccounts = List.copyOf(allowedServiceAccounts);
            if (jwksFile.isPresent() == jwksUrl.isPresent()) {
                throw new IllegalArgumentException("set exactly one of psat.jwks-file and psat.jwks-url");
            }
            // Whoever answers the JWKS URL decides which agents attest: plain http would let the network do so.
            if (jwksUrl.isPresent() && (!"https".equalsIgnoreCase(jwksUrl.get().getScheme())
                    || jwksUrl.get().getHost() == null)) {
                throw new IllegalArgumentException("psat.jwks-url must be an https:// URL with a host, not "
                        + jwksUrl.get() + " (for a cluster CA the JDK does not trust, set psat.jwks-ca-file)");
            }
            if (jwksCaFile.isPresent() && jwksUrl.isEmpty()) {
                throw new IllegalArgumentException("psat.jwks-ca-file authenticates the psat.jwks-url fetch;"
                        + " it has no use beside psat.jwks-file");
            }
            if (allowedServiceAccounts.isEmpty()) {
                throw new IllegalArgumentException("psat.allowed-service-accounts is empty: no agent could attest");
            }
        }
    }

    /**
     * The admin console on the publication port. While publication is plain HTTP it may only be enabled
     * on a loopback HTTP bind (its login link and session cookie would otherwise cross the network in
     * clear); over HTTPS on any bind, its links at {@code public-url}.
     *
     * @param sessionTtl how long a console session lasts after login (fixed, not sliding)
     */
    public record Console(boolean enabled, Duration sessionTtl) {
    }

    /**
     * How the publication port speaks: TLS with the server's own SPIFFE certificate ({@code spiffe}, for
     * {@code https_spiffe} consumers), TLS with an operator's web certificate ({@code web}, PEM files
     * re-read when they change, for {@code https_web} consumers), or plain HTTP ({@code none}, only when
     * configured: dev servers, or behind a TLS-terminating proxy).
     */
    public record Publication(PublicationTls tls, Optional<Path> webCertificate, Optional<Path> webKey,
            Duration reloadInterval, MetricsAccess metrics) {
        public Publication {
            if ((tls == PublicationTls.WEB) != (webCertificate.isPresent() && webKey.isPresent())
                    || webCertificate.isPresent() != webKey.isPresent()) {
                throw new IllegalArgumentException(
                        "http.tls=web needs http.tls.cert-file and http.tls.key-file, and only it takes them");
            }
        }
    }

    /** The publication port's TLS mode. */
    public enum PublicationTls {
        SPIFFE, WEB, NONE;

        static PublicationTls parse(String value) {
            return switch (value.trim()) {
                case "spiffe" -> SPIFFE;
                case "web" -> WEB;
                case "none" -> NONE;
                default -> throw new IllegalArgumentException("http.tls must be spiffe, web or none, not " + value);
            };
        }
    }

    /**
     * Who may read /metrics on the publication port: anyone ({@code public}, the default, as Prometheus
     * scrapers expect), clients on this host ({@code loopback}: by source address, so a proxy on this
     * host counts as loopback), or nobody ({@code off}). Refused clients get 404, as if there were none.
     */
    public enum MetricsAccess {
        PUBLIC, LOOPBACK, OFF;

        static MetricsAccess parse(String value) {
            return switch (value.trim()) {
                case "public" -> PUBLIC;
                case "loopback" -> LOOPBACK;
                case "off" -> OFF;
                default -> throw new IllegalArgumentException("http.metrics must be public, loopback or off, not "
                        + value);
            };
        }
    }

    /** PEM files of a CA made elsewhere; the root's key stays offline. */
    public record CaImport(Path rootCertificate, Path intermediateCertificate, Path intermediateKey) {
    }

    private static final Set<String> KNOWN_KEYS = Set.of(
            "trust-domain", "data-dir", "grpc.host", "grpc.port", "http.host", "http.port", "public-url",
            "database.url", "database.user", "database.password-env", "database.embedded", "kek.file", "kek.passphrase-env",
            "ca.generate", "ca.import.root-cert", "ca.import.intermediate-cert", "ca.import.intermediate-key",
            "ca.root-ttl", "ca.intermediate-ttl", "svid.default-ttl", "svid.max-ttl", "join-token.default-ttl",
            "admin.spiffe-ids", "admin.credential-dir", "admin.credential-ttl", "server.dns-names",
            "server.certificate-ttl", "csr.max-bytes", "bundle.refresh-hint", "token.algorithm", "token.max-ttl",
            "token.rate-per-second", "token.burst", "limits.identity-per-second", "limits.identity-burst",
            "limits.anonymous-per-second", "limits.anonymous-burst", "jwt.key-lifetime", "jwt.publish-lead", "contracts.dir",
            "policy.file", "revocation.heartbeat-interval", "revocation.crl-validity", "revocation.poll-interval", "log.format",
            "http.header-timeout", "http.idle-timeout", "http.max-connections", "http.max-connections-per-source",
            "http.max-request-line-bytes", "http.max-header-bytes", "grpc.max-concurrent-streams",
            "grpc.keepalive-time", "grpc.keepalive-timeout", "grpc.permit-keepalive-time", "grpc.max-connection-idle",
            "grpc.max-message-bytes", "grpc.max-metadata-bytes", "grpc.handshake-timeout",
            "grpc.max-watch-streams-per-identity", "grpc.max-connections", "grpc.max-connections-per-source",
            "grpc.max-resets-per-window", "grpc.reset-window",
            "grpc.max-anonymous-message-bytes", "grpc.max-anonymous-inbound-bytes-per-source",
            "grpc.max-anonymous-inbound-bytes", "grpc.max-inbound-bytes-per-identity", "grpc.max-inbound-bytes",
            "grpc.max-blocking-calls", "grpc.max-queued-blocking-calls",
            "certificates.retention",
            "agent.svid-ttl", "agent.attestation-timeout", "x509pop.roots", "psat.cluster", "psat.issuer", "psat.jwks-file", "psat.jwks-url",
            "psat.jwks-ca-file", "psat.audience", "psat.allowed-service-accounts", "psat.max-token-lifetime",
            "console.enabled", "console.session-ttl",
            "custody", "pkcs11.module", "pkcs11.slot",
            "pkcs11.slot-index", "pkcs11.pin-env", "pkcs11.pin-file", "http.tls", "http.tls.cert-file",
            "http.tls.key-file", "http.tls.reload-interval", "http.metrics", "federation.web-roots", "ca.successor-warning",
            "federation.revocation-max-lifetime", "federation.revocation-max-entries");

    public ServerConfig {
        SpiffeId.validateTrustDomain(trustDomain);
        adminIds = List.copyOf(adminIds);
        serverDnsNames = List.copyOf(serverDnsNames);
        for (SpiffeId admin : adminIds) {
            if (!admin.isMemberOf(trustDomain)) {
                throw new IllegalArgumentException("admin ID " + admin + " is not in trust domain " + trustDomain);
            }
        }
        if (adminIds.isEmpty()) {
            throw new IllegalArgumentException("admin.spiffe-ids is empty: nobody could administer this server");
        }
        if (defaultSvidTtl.compareTo(maxSvidTtl) > 0) {
            throw new IllegalArgumentException("svid.default-ttl is longer than svid.max-ttl");
        }
        if (intermediateTtl.compareTo(rootTtl) >= 0) {
            throw new IllegalArgumentException("ca.intermediate-ttl must be shorter than ca.root-ttl");
        }
        if (maxSvidTtl.compareTo(intermediateTtl.dividedBy(2)) > 0) {
            throw new IllegalArgumentException("svid.max-ttl must be at most half of ca.intermediate-ttl");
        }
        if (tokens.publishLead().compareTo(bundleRefreshHint.multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("jwt.publish-lead must be at least twice bundle.refresh-hint,"
                    + " or verifiers could meet a key they have not fetched yet");
        }
        if (tokens.publishLead().compareTo(tokens.keyLifetime()) >= 0) {
            throw new IllegalArgumentException("jwt.publish-lead must be shorter than jwt.key-lifetime");
        }
        if (publication.tls() != PublicationTls.NONE && publicUrl.getScheme().equals("http")) {
            throw new IllegalArgumentException("public-url " + publicUrl + " is http:// but http.tls="
                    + publication.tls().name().toLowerCase(java.util.Locale.ROOT)
                    + " serves TLS: use https:// (or http.tls=none)");
        }
        if (generateCa == caImport.isPresent()) {
            throw new IllegalArgumentException(
                    "set exactly one of ca.generate=true or the ca.import.* files");
        }
        // Over plain HTTP the session cookie and the login link would cross the network in clear.
        if (console.enabled() && !isLoopback(httpHost) && publication.tls() == PublicationTls.NONE) {
            throw new IllegalArgumentException("console.enabled=true needs a loopback http.host (127.0.0.1, ::1"
                    + " or localhost) while publication is plain HTTP (http.tls=none); http.host is " + httpHost
                    + ": bind it to loopback, or serve the HTTP port over TLS (http.tls=web or spiffe)");
        }
        if (console.sessionTtl().isNegative() || console.sessionTtl().isZero()) {
            throw new IllegalArgumentException("console.session-ttl must be positive");
        }
    }

    static boolean isLoopback(String host) {
        // The exact name "localhost" or a loopback IP literal; any other name is not loopback, and no name
        // resolution decides this (a literal checked first never makes getByName look anything up).
        if (host.equals("localhost")) {
            return true;
        }
        String literal = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (!org.bouncycastle.util.IPAddress.isValid(literal)) {
            return false;
        }
        try {
            return java.net.InetAddress.getByName(literal).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** A dev server: a generated CA in {@code dataDir}, loopback only, an admin credential written to disk. */
    public static ServerConfig dev(Path dataDir, int grpcPort, int httpPort) {
        return dev(dataDir, grpcPort, httpPort, java.util.Map.of());
    }

    /** A dev server with extra settings (node attestation in tests: x509pop.roots, psat.*). */
    public static ServerConfig dev(Path dataDir, int grpcPort, int httpPort, java.util.Map<String, String> extra) {
        dataDir = dataDir.toAbsolutePath().normalize();
        Properties p = new Properties();
        p.setProperty("trust-domain", "lanyard.local");
        p.setProperty("data-dir", dataDir.toString());
        p.setProperty("grpc.host", "127.0.0.1");
        p.setProperty("grpc.port", Integer.toString(grpcPort));
        p.setProperty("http.host", "127.0.0.1");
        p.setProperty("http.port", Integer.toString(httpPort));
        p.setProperty("http.tls", "none"); // a dev server publishes over plain HTTP unless told otherwise
        p.setProperty("admin.credential-dir", dataDir.resolve("admin").toString());
        // Whichever loopback spelling a client uses, the server's certificate names it.
        p.setProperty("server.dns-names", "localhost,127.0.0.1,::1");
        // loopback only: every client has the same source address, so a per-source cap would be the total one
        p.setProperty("grpc.max-connections-per-source", Integer.toString(GrpcLimits.defaults().maxConnections()));
        p.setProperty("console.enabled", "true");
        extra.forEach(p::setProperty);
        return fromProperties(p, dataDir);
    }

    /** Loads a properties file; relative paths in it are relative to the file's directory. */
    public static ServerConfig load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        Path base = file.toAbsolutePath().getParent();
        return fromProperties(p, base);
    }

    static ServerConfig fromProperties(Properties p, Path base) {
        List<String> unknown = new ArrayList<>();
        for (String key : p.stringPropertyNames()) {
            if (!KNOWN_KEYS.contains(key)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            // A typo in a CA's configuration must not silently fall back to a default.
            throw new IllegalArgumentException("unknown configuration keys: " + new TreeSet<>(unknown));
        }
        String trustDomain = required(p, "trust-domain");
        Path dataDir = path(base, p.getProperty("data-dir", "lanyard-data"));
        int httpPort = port(p, "http.port", 8080);
        PublicationTls tls = PublicationTls.parse(p.getProperty("http.tls", "spiffe"));
        List<SpiffeId> admins = new ArrayList<>();
        for (String id : list(p.getProperty("admin.spiffe-ids", "spiffe://" + trustDomain + "/lanyard/admin"))) {
            admins.add(SpiffeId.parse(id));
        }
        Optional<CaImport> caImport = Optional.empty();
        if (p.getProperty("ca.import.root-cert") != null) {
            caImport = Optional.of(new CaImport(
                    path(base, required(p, "ca.import.root-cert")),
                    path(base, required(p, "ca.import.intermediate-cert")),
                    path(base, required(p, "ca.import.intermediate-key"))));
        }
        boolean generate = Boolean.parseBoolean(p.getProperty("ca.generate", caImport.isEmpty() ? "true" : "false"));
        String passwordEnv = p.getProperty("database.password-env", "LANYARD_DATABASE_PASSWORD");
        // Credential lifetimes, read once: the federated revocation cap is derived from them.
        Duration svidMaxTtl = duration(p, "svid.max-ttl", "24h");
        Duration adminCredentialTtl = duration(p, "admin.credential-ttl", "24h");
        Duration serverCertificateTtl = duration(p, "server.certificate-ttl", "24h");
        Duration tokenMaxTtl = duration(p, "token.max-ttl", "1h");
        Duration agentSvidTtl = duration(p, "agent.svid-ttl", "1h");
        Duration longestCredential = java.util.stream.Stream.of(Duration.ofHours(24), svidMaxTtl, serverCertificateTtl,
                agentSvidTtl, adminCredentialTtl, tokenMaxTtl).max(Duration::compareTo).orElseThrow();
        return new ServerConfig(
                trustDomain,
                dataDir,
                p.getProperty("grpc.host", "0.0.0.0"),
                port(p, "grpc.port", 8443),
                p.getProperty("http.host", "0.0.0.0"),
                httpPort,
                URI.create(p.getProperty("public-url",
                        (tls == PublicationTls.NONE ? "http" : "https") + "://localhost:" + httpPort)),
                Optional.ofNullable(p.getProperty("database.url")),
                p.getProperty("database.user", ""),
                Optional.ofNullable(System.getenv(passwordEnv)).orElse(""),
                embeddedStore(p),
                path(base, p.getProperty("kek.file", dataDir.resolve("kek").toString())),
                Optional.ofNullable(p.getProperty("kek.passphrase-env")),
                generate,
                caImport,
                duration(p, "ca.root-ttl", "3650d"),
                duration(p, "ca.intermediate-ttl", "365d"),
                duration(p, "svid.default-ttl", "1h"),
                svidMaxTtl,
                duration(p, "join-token.default-ttl", "10m"),
                admins,
                Optional.ofNullable(p.getProperty("admin.credential-dir")).map(s -> path(base, s)),
                adminCredentialTtl,
                list(p.getProperty("server.dns-names", "localhost")),
                serverCertificateTtl,
                Integer.parseInt(p.getProperty("csr.max-bytes", "16384")),
                duration(p, "bundle.refresh-hint", "5m"),
                new Tokens(SigningAlgorithm.valueOf(p.getProperty("token.algorithm", "ES256")),
                        tokenMaxTtl,
                        Double.parseDouble(p.getProperty("token.rate-per-second", "50")),
                        Integer.parseInt(p.getProperty("token.burst", "100")),
                        duration(p, "jwt.key-lifetime", "24h"),
                        duration(p, "jwt.publish-lead", "10m"),
                        Optional.ofNullable(p.getProperty("contracts.dir")).map(v -> path(base, v)),
                        Optional.ofNullable(p.getProperty("policy.file")).map(v -> path(base, v))),
                new Revocations(duration(p, "revocation.heartbeat-interval", "5s"),
                        duration(p, "revocation.crl-validity", "24h"),
                        duration(p, "revocation.poll-interval", "1s"),
                        duration(p, "federation.revocation-max-lifetime",
                                Durations.format(longestCredential.plus(Duration.ofMinutes(5)))),
                        integer(p, "federation.revocation-max-entries", 10_000)),
                new CallLimits(Double.parseDouble(p.getProperty("limits.identity-per-second", "500")),
                        Integer.parseInt(p.getProperty("limits.identity-burst", "1000")),
                        Double.parseDouble(p.getProperty("limits.anonymous-per-second", "20")),
                        Integer.parseInt(p.getProperty("limits.anonymous-burst", "100"))),
                logFormat(p.getProperty("log.format", "text")),
                httpLimits(p),
                grpcLimits(p),
                duration(p, "certificates.retention", "7d"),
                new Agents(agentSvidTtl, duration(p, "agent.attestation-timeout", "30s"),
                        list(p.getProperty("x509pop.roots", "")).stream().map(v -> path(base, v)).toList(),
                        psat(p, base)),
                new Console(Boolean.parseBoolean(p.getProperty("console.enabled", "false")),
                        duration(p, "console.session-ttl", "15m")),
                custody(p, base),
                new Publication(tls,
                        Optional.ofNullable(p.getProperty("http.tls.cert-file")).map(v -> path(base, v)),
                        Optional.ofNullable(p.getProperty("http.tls.key-file")).map(v -> path(base, v)),
                        duration(p, "http.tls.reload-interval", "10s"),
                        MetricsAccess.parse(p.getProperty("http.metrics", "public"))),
                Optional.ofNullable(p.getProperty("federation.web-roots")).map(v -> path(base, v)),
                Optional.ofNullable(p.getProperty("ca.successor-warning")).map(v -> duration(p, "ca.successor-warning", v)));
    }

    /**
     * The longest a credential of this server lives (its certificates and tokens, at least 24 hours):
     * a federated peer's are assumed to live no longer, unless federation.revocation-max-lifetime says so.
     */
    private static Custody custody(Properties p, Path base) {
        String kind = p.getProperty("custody", "software");
        if (!kind.equals("software") && !kind.equals("pkcs11")) {
            throw new IllegalArgumentException("custody must be software or pkcs11, not " + kind);
        }
        return new Custody(kind.equals("pkcs11"),
                Optional.ofNullable(p.getProperty("pkcs11.module")).map(v -> path(base, v)),
                Optional.ofNullable(p.getProperty("pkcs11.slot")).map(Long::parseLong),
                Integer.parseInt(p.getProperty("pkcs11.slot-index", "0")),
                Optional.ofNullable(p.getProperty("pkcs11.pin-env")),
                Optional.ofNullable(p.getProperty("pkcs11.pin-file")).map(v -> path(base, v)));
    }

    private static HttpLimits httpLimits(Properties p) {
        HttpLimits d = HttpLimits.defaults();
        return new HttpLimits(
                duration(p, "http.header-timeout", Durations.format(d.headerTimeout())),
                duration(p, "http.idle-timeout", Durations.format(d.idleTimeout())),
                integer(p, "http.max-connections", d.maxConnections()),
                integer(p, "http.max-connections-per-source", d.maxConnectionsPerSource()),
                integer(p, "http.max-request-line-bytes", d.maxRequestLineBytes()),
                integer(p, "http.max-header-bytes", d.maxHeaderBytes()));
    }

    private static GrpcLimits grpcLimits(Properties p) {
        GrpcLimits d = GrpcLimits.defaults();
        return new GrpcLimits(
                integer(p, "grpc.max-concurrent-streams", d.maxConcurrentStreams()),
                duration(p, "grpc.keepalive-time", Durations.format(d.keepAliveTime())),
                duration(p, "grpc.keepalive-timeout", Durations.format(d.keepAliveTimeout())),
                duration(p, "grpc.permit-keepalive-time", Durations.format(d.permitKeepAliveTime())),
                duration(p, "grpc.max-connection-idle", Durations.format(d.maxConnectionIdle())),
                integer(p, "grpc.max-message-bytes", d.maxMessageBytes()),
                integer(p, "grpc.max-metadata-bytes", d.maxMetadataBytes()),
                duration(p, "grpc.handshake-timeout", Durations.format(d.handshakeTimeout())),
                integer(p, "grpc.max-watch-streams-per-identity", d.maxWatchStreamsPerIdentity()),
                integer(p, "grpc.max-connections", d.maxConnections()),
                integer(p, "grpc.max-connections-per-source", d.maxConnectionsPerSource()),
                integer(p, "grpc.max-resets-per-window", d.maxResetsPerWindow()),
                duration(p, "grpc.reset-window", Durations.format(d.resetWindow())),
                new GrpcLimits.AnonymousInbound(
                        integer(p, "grpc.max-anonymous-message-bytes", d.anonymousInbound().maxMessageBytes()),
                        integer(p, "grpc.max-anonymous-inbound-bytes-per-source",
                                (int) d.anonymousInbound().maxPerSourceBytes()),
                        integer(p, "grpc.max-anonymous-inbound-bytes", (int) d.anonymousInbound().maxTotalBytes())),
                new GrpcLimits.Inbound(
                        integer(p, "grpc.max-inbound-bytes-per-identity", (int) d.inbound().maxPerIdentityBytes()),
                        integer(p, "grpc.max-inbound-bytes", (int) d.inbound().maxTotalBytes())),
                integer(p, "grpc.max-blocking-calls", d.maxBlockingCalls()),
                integer(p, "grpc.max-queued-blocking-calls", d.maxQueuedBlockingCalls()));
    }

    private static int integer(Properties p, String key, int fallback) {
        String value = p.getProperty(key);
        if (value == null) {
            return fallback;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + " must be a whole number, not " + value.trim());
        }
    }

    /** database.embedded: which store a new data directory gets; meaningless beside database.url. */
    private static Optional<EmbeddedStore> embeddedStore(Properties p) {
        String value = p.getProperty("database.embedded");
        if (value == null) {
            return Optional.empty();
        }
        if (p.getProperty("database.url") != null) {
            throw new IllegalArgumentException("database.embedded (h2 or sqlite, in data-dir) and database.url"
                    + " name two stores: set one of them");
        }
        return Optional.of(EmbeddedStore.parse(value));
    }

    private static Optional<Psat> psat(Properties p, Path base) {
        if (p.getProperty("psat.cluster") == null) {
            return Optional.empty();
        }
        return Optional.of(new Psat(required(p, "psat.cluster"), required(p, "psat.issuer"),
                Optional.ofNullable(p.getProperty("psat.jwks-file")).map(v -> path(base, v)),
                Optional.ofNullable(p.getProperty("psat.jwks-url")).map(ServerConfig::jwksUrl),
                Optional.ofNullable(p.getProperty("psat.jwks-ca-file")).map(v -> path(base, v)),
                p.getProperty("psat.audience", "lanyard"),
                list(p.getProperty("psat.allowed-service-accounts", "")),
                // A kubelet-projected token lives expirationSeconds (default 1h, SPIRE's examples ask 2h)
                // from iat to exp; the API server extends only tokens for its own audience, not ours.
                duration(p, "psat.max-token-lifetime", "2h")));
    }

    private static URI jwksUrl(String value) {
        try {
            return new URI(value.trim());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("psat.jwks-url is not a URL: " + e.getMessage());
        }
    }

    /** The SPIFFE ID of the server's own certificate. */
    public SpiffeId serverId() {
        return SpiffeId.of(trustDomain, "/lanyard/server");
    }

    /**
     * This configuration once the HTTP port is bound: with {@code http.port=0} the OS picks the port,
     * and the default public URL (issuer, JWKS, CRL distribution points) must name that port.
     */
    public ServerConfig withBoundHttpPort(int boundPort) {
        if (httpPort != 0) {
            return this;
        }
        URI url = publicUrl.getPort() != 0 ? publicUrl : URI.create(publicUrl.getScheme() + "://"
                + publicUrl.getHost() + ":" + boundPort + publicUrl.getRawPath());
        return new ServerConfig(trustDomain, dataDir, grpcHost, grpcPort, httpHost, boundPort, url, databaseUrl,
                databaseUser, databasePassword, embeddedStore, kekFile, kekPassphraseEnv, generateCa, caImport, rootTtl,
                intermediateTtl, defaultSvidTtl, maxSvidTtl, joinTokenTtl, adminIds, adminCredentialDir,
                adminCredentialTtl, serverDnsNames, serverCertificateTtl, maxCsrBytes, bundleRefreshHint, tokens,
                revocations, callLimits, logFormat, httpLimits, grpcLimits, certificateRetention, agents, console,
                custody, publication, federationWebRoots, caSuccessorWarning);
    }

    /** Every component, except that the database password is never written out. */
    @Override
    public String toString() {
        return "ServerConfig[trustDomain=" + trustDomain + ", dataDir=" + dataDir + ", grpc=" + grpcHost + ":" + grpcPort
                + ", http=" + httpHost + ":" + httpPort + ", publicUrl=" + publicUrl + ", databaseUrl="
                + databaseUrl.map(Database::redact) + ", databaseUser=" + databaseUser + ", databasePassword="
                + (databasePassword.isEmpty() ? "" : "***") + ", embeddedStore=" + embeddedStore + ", kekFile=" + kekFile + ", kekPassphraseEnv="
                + kekPassphraseEnv + ", generateCa=" + generateCa + ", caImport=" + caImport + ", rootTtl=" + rootTtl
                + ", intermediateTtl=" + intermediateTtl + ", defaultSvidTtl=" + defaultSvidTtl + ", maxSvidTtl="
                + maxSvidTtl + ", joinTokenTtl=" + joinTokenTtl + ", adminIds=" + adminIds + ", adminCredentialDir="
                + adminCredentialDir + ", adminCredentialTtl=" + adminCredentialTtl + ", serverDnsNames="
                + serverDnsNames + ", serverCertificateTtl=" + serverCertificateTtl + ", maxCsrBytes=" + maxCsrBytes
                + ", bundleRefreshHint=" + bundleRefreshHint + ", tokens=" + tokens + ", revocations=" + revocations + ", callLimits=" + callLimits
                + ", logFormat=" + logFormat + ", httpLimits=" + httpLimits + ", grpcLimits=" + grpcLimits
                + ", certificateRetention=" + certificateRetention + ", agents=" + agents + ", console=" + console
                + ", custody=" + custody + ", publication=" + publication
                + ", federationWebRoots=" + federationWebRoots + ", caSuccessorWarning=" + caSuccessorWarning + "]";
    }

    /** The {@code iss} of every token: the public URL of this server. */
    public String issuer() {
        String url = publicUrl.toString();
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /** Where the CRL of one issuing CA is published; every certificate it issues points here. */
    public URI crlUrl(String issuerKeyId) {
        return publicUrl.resolve("/crl/" + issuerKeyId);
    }

    private static LogFormat logFormat(String value) {
        return switch (value) {
            case "text" -> LogFormat.TEXT;
            case "json" -> LogFormat.JSON;
            default -> throw new IllegalArgumentException("log.format must be text or json, not " + value);
        };
    }

    private static String required(Properties p, String key) {
        String value = p.getProperty(key);
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("configuration key " + key + " is required");
        }
        return value.trim();
    }

    private static int port(Properties p, String key, int fallback) {
        int port = Integer.parseInt(p.getProperty(key, Integer.toString(fallback)).trim());
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(key + " must be a port number, 0 for any free port");
        }
        return port;
    }

    private static Duration duration(Properties p, String key, String fallback) {
        Duration d = Durations.parse(p.getProperty(key, fallback));
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(key + " must be positive");
        }
        return d;
    }

    private static Path path(Path base, String value) {
        Path path = Path.of(value.trim());
        return path.isAbsolute() ? path : base.resolve(path).normalize();
    }

    private static List<String> list(String value) {
        return Arrays.stream(value.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
}
