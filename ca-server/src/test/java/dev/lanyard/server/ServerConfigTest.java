package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import dev.lanyard.publication.HttpLimits;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerConfigTest {

    @TempDir
    Path dir;

    @Test
    void theDocumentedExampleLoadsWithItsDefaults() throws Exception {
        ServerConfig config = ServerConfig.load(Path.of("..", "docs", "server.properties"));
        assertThat(config.trustDomain()).isEqualTo("acme.internal");
        assertThat(config.grpcPort()).isEqualTo(8443);
        assertThat(config.httpPort()).isEqualTo(8080);
        assertThat(config.publication().metrics()).isEqualTo(ServerConfig.MetricsAccess.PUBLIC);
        assertThat(config.defaultSvidTtl()).isEqualTo(Duration.ofHours(1));
        assertThat(config.joinTokenTtl()).isEqualTo(Duration.ofMinutes(10));
        assertThat(config.crlUrl("ab12").toString()).isEqualTo("https://localhost:8080/crl/ab12");
        assertThat(config.generateCa()).isTrue();
        assertThat(config.adminCredentialDir()).isEmpty();
        assertThat(config.httpLimits()).as("documented = built-in defaults").isEqualTo(HttpLimits.defaults());
        assertThat(config.grpcLimits()).as("documented = built-in defaults").isEqualTo(GrpcLimits.defaults());
        assertThat(config.revocations().federatedMaxEntries()).isEqualTo(10_000);
    }

    @Test
    void aFederatedPeersCredentialRevocationsAreBoundedByTheLongestCredentialHereUnlessConfigured() throws Exception {
        ServerConfig.Revocations defaults = load("trust-domain=acme.internal\n").revocations();
        assertThat(defaults.federatedMaxLifetime()).isEqualTo(Duration.ofHours(24).plusMinutes(5));
        assertThat(defaults.federatedMaxEntries()).isEqualTo(10_000);
        assertThat(load("trust-domain=acme.internal\ntoken.max-ttl=2d\n").revocations().federatedMaxLifetime())
                .isEqualTo(Duration.ofDays(2).plusMinutes(5));
        assertThat(load("trust-domain=acme.internal\nfederation.revocation-max-lifetime=7d\n"
                + "federation.revocation-max-entries=50\n").revocations())
                .extracting(ServerConfig.Revocations::federatedMaxLifetime, ServerConfig.Revocations::federatedMaxEntries)
                .containsExactly(Duration.ofDays(7), 50);
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nfederation.revocation-max-entries=0\n"))
                .hasMessageContaining("federation.revocation-max-entries must be at least 1");
    }

    @Test
    void whatOneIdentitysMessagesHoldWhileArrivingIsBoundedButAdmitsTheLargestMessage() throws Exception {
        GrpcLimits.Inbound defaults = load("trust-domain=acme.internal\n").grpcLimits().inbound();
        assertThat(defaults).isEqualTo(new GrpcLimits.Inbound(16 * 1024 * 1024, 256 * 1024 * 1024));
        assertThat(load("trust-domain=acme.internal\ngrpc.max-inbound-bytes-per-identity=8388608\n"
                + "grpc.max-inbound-bytes=33554432\n").grpcLimits().inbound())
                .isEqualTo(new GrpcLimits.Inbound(8 * 1024 * 1024, 32 * 1024 * 1024));
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ngrpc.max-inbound-bytes-per-identity=1048576\n"))
                .hasMessageContaining("grpc.max-inbound-bytes-per-identity must be at least grpc.max-message-bytes");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ngrpc.max-inbound-bytes=8388608\n"))
                .hasMessageContaining("grpc.max-inbound-bytes must be at least grpc.max-inbound-bytes-per-identity");
    }

    @Test
    void theConsoleIsOffByDefaultAndOverPlainHttpOnlyOnALoopbackBind() throws Exception {
        assertThat(load("trust-domain=acme.internal\n").console().enabled()).isFalse();
        assertThat(load("trust-domain=acme.internal\nhttp.host=127.0.0.1\nhttp.tls=none\nconsole.enabled=true\n")
                .console().enabled()).isTrue();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> load(
                "trust-domain=acme.internal\nhttp.host=0.0.0.0\nhttp.tls=none\nconsole.enabled=true\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("console.enabled=true needs a loopback http.host (127.0.0.1, ::1 or localhost) while"
                        + " publication is plain HTTP (http.tls=none); http.host is 0.0.0.0: bind it to loopback, or"
                        + " serve the HTTP port over TLS (http.tls=web or spiffe)");
        // Over TLS (spiffe by default, or web) the login link and the Secure cookie are encrypted on any bind.
        assertThat(load("trust-domain=acme.internal\nhttp.host=0.0.0.0\nconsole.enabled=true\n").console().enabled())
                .isTrue();
    }

    @Test
    void onlyALoopbackAddressOrLocalhostIsLoopbackNeverANameThatLooksLikeOne() throws Exception {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> load(
                "trust-domain=acme.internal\nhttp.host=127.evil.example\nhttp.tls=none\nconsole.enabled=true\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("console.enabled=true needs a loopback http.host")
                .hasMessageContaining("127.evil.example");
        for (String loopback : List.of("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]",
                "0:0:0:0:0:0:0:1")) {
            assertThat(ServerConfig.isLoopback(loopback)).as(loopback).isTrue();
        }
        // Names are not resolved: these are not loopback however a resolver would answer.
        for (String not : List.of("127.evil.example", "127.0.0.1.nip.io", "127.0.0.1.", "localhost.evil.example",
                "LOCALHOST.", "127", "10.0.0.1", "0.0.0.0", "::", "[::1", "")) {
            assertThat(ServerConfig.isLoopback(not)).as(not).isFalse();
        }
    }

    @Test
    void connectionLimitsAreRead() throws Exception {
        ServerConfig config = load("trust-domain=acme.internal\nhttp.port=0\nhttp.header-timeout=3s\nhttp.max-connections-per-source=5\n"
                + "grpc.max-concurrent-streams=7\ngrpc.max-watch-streams-per-identity=2\ngrpc.keepalive-time=30s\n");
        assertThat(config.httpLimits().headerTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(config.httpLimits().maxConnectionsPerSource()).isEqualTo(5);
        assertThat(config.grpcLimits().maxConcurrentStreams()).isEqualTo(7);
        assertThat(config.grpcLimits().maxWatchStreamsPerIdentity()).isEqualTo(2);
        assertThat(config.grpcLimits().keepAliveTime()).isEqualTo(Duration.ofSeconds(30));
        ServerConfig bound = config.withBoundHttpPort(1234);
        assertThat(bound.httpPort()).as("http.port=0 was bound").isEqualTo(1234);
        assertThat(bound.httpLimits()).isEqualTo(config.httpLimits());
        assertThat(bound.grpcLimits()).isEqualTo(config.grpcLimits());
    }

    @Test
    void devConfigIsLoopbackWithAnAdminCredential() {
        ServerConfig config = ServerConfig.dev(dir, 0, 0);
        assertThat(config.grpcHost()).isEqualTo("127.0.0.1");
        assertThat(config.adminCredentialDir()).contains(dir.resolve("admin"));
        assertThat(config.kekFile()).isEqualTo(dir.resolve("kek"));
        assertThat(config.adminIds()).extracting(Object::toString)
                .containsExactly("spiffe://lanyard.local/lanyard/admin");
    }

    @Test
    void aPortTheOsPicksIsTheOneThePublicUrlNames() throws Exception {
        ServerConfig bound = ServerConfig.dev(dir, 0, 0).withBoundHttpPort(41234);
        assertThat(bound.httpPort()).isEqualTo(41234);
        assertThat(bound.issuer()).isEqualTo("http://localhost:41234");
        assertThat(bound.crlUrl("ab12").toString()).isEqualTo("http://localhost:41234/crl/ab12");

        ServerConfig behindAProxy = load("trust-domain=acme.internal\nhttp.port=0\npublic-url=https://ca.acme.internal\n")
                .withBoundHttpPort(41234);
        assertThat(behindAProxy.issuer()).as("an explicit public URL is kept").isEqualTo("https://ca.acme.internal");
        ServerConfig fixed = load("trust-domain=acme.internal\nhttp.port=8080\n");
        assertThat(fixed.withBoundHttpPort(8080)).isSameAs(fixed);

        try (LanyardServer server = LanyardServer.start(ServerConfig.dev(dir, 0, 0))) {
            assertThat(server.httpPort()).isNotZero();
            assertThat(server.config().issuer()).isEqualTo("http://localhost:" + server.httpPort());
        }
    }

    @Test
    void theEmbeddedStoreIsChosenByDatabaseEmbeddedAndNotBesideADatabaseUrl() throws Exception {
        assertThat(load("trust-domain=acme.internal\n").embeddedStore()).isEmpty();
        assertThat(load("trust-domain=acme.internal\ndatabase.embedded=sqlite\n").embeddedStore())
                .contains(dev.lanyard.store.EmbeddedStore.SQLITE);
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ndatabase.embedded=derby\n"))
                .hasMessageContaining("h2 or sqlite, not derby");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ndatabase.embedded=h2\n"
                + "database.url=jdbc:postgresql://db/lanyard\n")).hasMessageContaining("set one of them");
    }

    @Test
    void theDatabasePasswordNeverShowsInTheConfigsText() throws Exception {
        ServerConfig config = load("trust-domain=acme.internal\n");
        ServerConfig withPassword = new ServerConfig(config.trustDomain(), config.dataDir(), config.grpcHost(),
                config.grpcPort(), config.httpHost(), config.httpPort(), config.publicUrl(), config.databaseUrl(),
                "lanyard", "s3cret-db-password", config.embeddedStore(), config.kekFile(), config.kekPassphraseEnv(), config.generateCa(),
                config.caImport(), config.rootTtl(), config.intermediateTtl(), config.defaultSvidTtl(),
                config.maxSvidTtl(), config.joinTokenTtl(), config.adminIds(), config.adminCredentialDir(),
                config.adminCredentialTtl(), config.serverDnsNames(), config.serverCertificateTtl(), config.maxCsrBytes(),
                config.bundleRefreshHint(), config.tokens(), config.revocations(), config.callLimits(), config.logFormat(),
                config.httpLimits(), config.grpcLimits(),
                config.certificateRetention(), config.agents(), config.console(), config.custody(),
                config.publication(), config.federationWebRoots(), config.caSuccessorWarning());
        assertThat(withPassword.toString()).doesNotContain("s3cret").contains("databasePassword=***")
                .contains("trustDomain=acme.internal");
    }

    @Test
    void nodeAttestationIsConfiguredPerKind() throws Exception {
        ServerConfig none = load("trust-domain=acme.internal\n");
        assertThat(none.agents().x509popRoots()).isEmpty();
        assertThat(none.agents().psat()).isEmpty();
        assertThat(none.agents().svidTtl()).isEqualTo(java.time.Duration.ofHours(1));
        ServerConfig both = load("trust-domain=acme.internal\nx509pop.roots=a.pem, b.pem\npsat.cluster=prod\n"
                + "psat.issuer=https://k8s.example\npsat.jwks-url=https://k8s.example/openid/v1/jwks\n"
                + "psat.allowed-service-accounts=lanyard:agent\n");
        assertThat(both.agents().x509popRoots()).hasSize(2);
        assertThat(both.agents().psat().orElseThrow().audience()).isEqualTo("lanyard");
        assertThat(both.agents().psat().orElseThrow().allowedServiceAccounts()).containsExactly("lanyard:agent");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\npsat.cluster=prod\npsat.issuer=https://k8s\n"
                + "psat.allowed-service-accounts=lanyard:agent\n"))
                .hasMessageContaining("exactly one of psat.jwks-file and psat.jwks-url");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\npsat.cluster=prod\npsat.issuer=https://k8s\n"
                + "psat.jwks-file=j.json\n")).hasMessageContaining("psat.allowed-service-accounts is empty");
    }

    /** Whoever answers psat.jwks-url mints agent identities: only https, and its CA may be given. */
    @Test
    void psatTakesItsJwksOverHttpsOnlyWithAnOptionalClusterCa() throws Exception {
        String cluster = "trust-domain=acme.internal\npsat.cluster=prod\npsat.issuer=https://k8s.example\n"
                + "psat.allowed-service-accounts=lanyard:agent\n";
        for (String url : new String[] {"http://k8s.example/openid/v1/jwks", "HTTP://10.0.0.1:6443/openid/v1/jwks",
                "file:///etc/lanyard/jwks.json", "ftp://k8s.example/jwks", "https:/openid/v1/jwks"}) {
            assertThatThrownBy(() -> load(cluster + "psat.jwks-url=" + url + "\n"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("psat.jwks-url must be an https:// URL with a host, not " + url);
        }
        assertThatThrownBy(() -> load(cluster + "psat.jwks-url=https://k8s example/jwks\n"))
                .hasMessageContaining("psat.jwks-url is not a URL");

        ServerConfig.Psat psat = load(cluster + "psat.jwks-url=https://k8s.example/openid/v1/jwks\n"
                + "psat.jwks-ca-file=cluster-ca.pem\n").agents().psat().orElseThrow();
        assertThat(psat.jwksCaFile()).contains(dir.resolve("cluster-ca.pem"));
        assertThat(load(cluster + "psat.jwks-url=https://k8s.example/openid/v1/jwks\n").agents().psat().orElseThrow()
                .jwksCaFile()).isEmpty();
        assertThatThrownBy(() -> load(cluster + "psat.jwks-file=jwks.json\npsat.jwks-ca-file=cluster-ca.pem\n"))
                .hasMessageContaining("psat.jwks-ca-file authenticates the psat.jwks-url fetch");
    }

    @Test
    void psatCapsATokensLifetimeAtTwoHoursUnlessTold() throws Exception {
        String cluster = "trust-domain=acme.internal\npsat.cluster=prod\npsat.issuer=https://k8s.example\n"
                + "psat.allowed-service-accounts=lanyard:agent\npsat.jwks-file=jwks.json\n";
        assertThat(load(cluster).agents().psat().orElseThrow().maxTokenLifetime())
                .isEqualTo(java.time.Duration.ofHours(2));
        assertThat(load(cluster + "psat.max-token-lifetime=30m\n").agents().psat().orElseThrow().maxTokenLifetime())
                .isEqualTo(java.time.Duration.ofMinutes(30));
        assertThatThrownBy(() -> load(cluster + "psat.max-token-lifetime=0s\n"))
                .hasMessageContaining("psat.max-token-lifetime must be positive");
    }

    @Test
    void mistakesAreRefusedNotDefaulted() throws Exception {
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ngrpc.prot=9443\n"))
                .hasMessageContaining("unknown configuration keys: [grpc.prot]");
        assertThatThrownBy(() -> load("grpc.port=9443\n")).hasMessageContaining("trust-domain is required");
        assertThatThrownBy(() -> load("trust-domain=Acme\n")).hasMessageContaining("lower-case");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nadmin.spiffe-ids=spiffe://other/admin\n"))
                .hasMessageContaining("not in trust domain");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nsvid.default-ttl=2d\n"))
                .hasMessageContaining("longer than svid.max-ttl");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nsvid.max-ttl=soon\n"))
                .hasMessageContaining("not a duration");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nca.generate=true\nca.import.root-cert=r.pem\n"
                + "ca.import.intermediate-cert=i.pem\nca.import.intermediate-key=k.pem\n"))
                .hasMessageContaining("exactly one of");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nlog.format=xml\n"))
                .hasMessageContaining("log.format must be text or json, not xml");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nrevocation.heartbeat-interval=10ms\n"))
                .hasMessageContaining("revocation.heartbeat-interval must be at least 100ms");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nrevocation.crl-validity=1m\n"))
                .hasMessageContaining("revocation.crl-validity must be at least 2m");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nhttp.max-connections=10\n"
                + "http.max-connections-per-source=20\n"))
                .hasMessageContaining("http.max-connections-per-source must be between 1 and http.max-connections");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\nhttp.idle-timeout=5s\nhttp.header-timeout=10s\n"))
                .hasMessageContaining("http.idle-timeout must be at least http.header-timeout");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ngrpc.max-message-bytes=lots\n"))
                .hasMessageContaining("grpc.max-message-bytes must be a whole number, not lots");
        assertThatThrownBy(() -> load("trust-domain=acme.internal\ngrpc.max-watch-streams-per-identity=0\n"))
                .hasMessageContaining("grpc.max-watch-streams-per-identity must be at least 1");
    }

    @Test
    void durationsReadAndWriteHumanForms() {
        assertThat(Durations.parse("90s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(Durations.parse("PT2H")).isEqualTo(Duration.ofHours(2));
        assertThat(Durations.parse("7d")).isEqualTo(Duration.ofDays(7));
        assertThat(Durations.format(Duration.ofMinutes(90))).isEqualTo("90m");
        assertThat(Durations.format(Duration.ofHours(48))).isEqualTo("2d");
    }

    private ServerConfig load(String text) throws Exception {
        Path file = dir.resolve("server.properties");
        Files.writeString(file, text);
        return ServerConfig.load(file);
    }
}
