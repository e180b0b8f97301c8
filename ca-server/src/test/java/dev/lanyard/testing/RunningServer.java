package dev.lanyard.testing;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ReloadingKeyManager;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.Attestation;
import dev.lanyard.v1.CertificateResponse;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.JoinTokenAttestation;
import dev.lanyard.v1.RenewCertificateRequest;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.TrustManagerFactory;

/**
 * A real Lanyard dev server on loopback (ports chosen by the OS, H2 in a temp dir, a clock the
 * test moves) and real TLS clients for it. Closing it closes every channel it made.
 */
public final class RunningServer implements AutoCloseable {

    private final Path dataDir;
    private final MutableClock clock;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final java.util.Map<String, String> extra;
    private LanyardServer server;

    private RunningServer(Path dataDir, MutableClock clock, java.util.Map<String, String> extra) throws IOException {
        this.dataDir = dataDir;
        this.clock = clock;
        this.extra = java.util.Map.copyOf(extra);
        this.server = LanyardServer.start(ServerConfig.dev(dataDir, 0, 0, this.extra), clock);
    }

    public static RunningServer start(Path dataDir) throws IOException {
        return start(dataDir, java.util.Map.of());
    }

    /** A dev server with extra settings (x509pop.roots, psat.*, ...). */
    public static RunningServer start(Path dataDir, java.util.Map<String, String> extra) throws IOException {
        return new RunningServer(dataDir, MutableClock.startingNow(), extra);
    }

    public LanyardServer server() {
        return server;
    }

    /** Whether {@code c}'s leaf and intermediate chain to one of {@code roots}, at this server's clock. */
    public boolean chainsTo(Credential c, List<X509Certificate> roots) {
        try {
            java.security.cert.PKIXParameters parameters = new java.security.cert.PKIXParameters(roots.stream()
                    .map(r -> new java.security.cert.TrustAnchor(r, null)).collect(java.util.stream.Collectors.toSet()));
            parameters.setRevocationEnabled(false);
            parameters.setDate(java.util.Date.from(clock().instant()));
            java.security.cert.CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509")
                    .generateCertPath(List.of(c.leaf(), c.chain().get(0))), parameters);
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    public MutableClock clock() {
        return clock;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Stops the server gracefully and starts a new one on the same data directory and ports. */
    public void restart() throws IOException {
        restart(dir -> {
        });
    }

    /** What a test does to the data directory while the server is stopped (puts an older copy of the store back, say). */
    @FunctionalInterface
    public interface WhileStopped {
        void change(Path dataDir) throws IOException;
    }

    /** Stops the server gracefully, lets {@code whileStopped} change its data directory, and starts it again on the same ports. */
    public void restart(WhileStopped whileStopped) throws IOException {
        int grpcPort = server.grpcPort();
        int httpPort = server.httpPort();
        closeChannels();
        server.close();
        whileStopped.change(dataDir);
        server = LanyardServer.start(ServerConfig.dev(dataDir, grpcPort, httpPort, extra), clock);
    }

    public Credential adminCredential() {
        try {
            return new CredentialDirectory(dataDir.resolve("admin")).read(CryptoProviders.bouncyCastleOnly());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A TLS channel trusting the server's bundle, presenting {@code client} if not null. */
    public ManagedChannel channel(Credential client) {
        ManagedChannel channel = TlsChannels.open(server.grpcPort(), server.trustBundle(), client);
        channels.add(channel);
        return channel;
    }

    /** Publishes the example contracts (payments, ledger) shipped in the proto jar. */
    public void publishExampleContracts() {
        try (var in = RunningServer.class.getResourceAsStream("/examples.pb")) {
            dev.lanyard.v1.ContractServiceGrpc.newBlockingStub(channel(adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .publishContracts(dev.lanyard.v1.PublishContractsRequest.newBuilder()
                            .setSource("examples").setDescriptorSet(ByteString.readFrom(in)).build());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Makes the store refuse audit records of {@code action} (and of no other), as a failing disk
     * would refuse every write; {@code null} lifts it.
     */
    public void refuseAuditRecords(String action) throws java.sql.SQLException {
        Path store = dataDir.resolve("lanyard.db");
        org.assertj.core.api.Assertions.assertThat(store).as("the dev server's SQLite store").exists();
        if (action == null) {
            RefusedRecords.allow(store);
        } else {
            RefusedRecords.refuse(store, action);
        }
    }

    /** Makes the store refuse to record any issued certificate, as a failing disk would; {@code false} lifts it. */
    public void refuseCertificates(boolean refuse) throws java.sql.SQLException {
        Path store = dataDir.resolve("lanyard.db");
        org.assertj.core.api.Assertions.assertThat(store).as("the dev server's SQLite store").exists();
        RefusedRecords.refuseCertificates(store, refuse);
    }

    /** How many rows {@code table} of the dev server's SQLite store holds, read beside the server. */
    public long rows(String table) throws java.sql.SQLException {
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("lanyard.db"));
                var s = c.createStatement(); var row = s.executeQuery("select count(*) from " + table)) {
            row.next();
            return row.getLong(1);
        }
    }

    /** Applies a grants policy given as protobuf text. */
    public void applyPolicy(String textProto) {
        try {
            dev.lanyard.v1.Policy.Builder policy = dev.lanyard.v1.Policy.newBuilder();
            com.google.protobuf.TextFormat.merge(textProto, policy);
            dev.lanyard.v1.PolicyServiceGrpc.newBlockingStub(channel(adminCredential()))
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .applyPolicy(dev.lanyard.v1.ApplyPolicyRequest.newBuilder().setPolicy(policy).build());
        } catch (com.google.protobuf.TextFormat.ParseException e) {
            throw new IllegalArgumentException(e);
        }
    }

    public dev.lanyard.v1.TokenServiceGrpc.TokenServiceBlockingStub tokens(Credential client) {
        return dev.lanyard.v1.TokenServiceGrpc.newBlockingStub(channel(client)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** The CRL of the active issuing CA, from its distribution point. */
    public java.security.cert.X509CRL crl() {
        String keyId = server.caRotation().active().ca().intermediate().keyId();
        try {
            java.net.http.HttpResponse<byte[]> response = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(httpUrl("/crl/" + keyId))).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofByteArray());
            return (java.security.cert.X509CRL) CertificateFactory.getInstance("X.509")
                    .generateCRL(new ByteArrayInputStream(response.body()));
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("could not fetch the CRL of " + keyId, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** An HTTP client trusting this server's bundle: it reaches an http.tls=spiffe listener. */
    public java.net.http.HttpClient httpsClient() {
        try {
            java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
            store.load(null, null);
            List<X509Certificate> roots = server.trustBundle();
            for (int i = 0; i < roots.size(); i++) {
                store.setCertificateEntry("root-" + i, roots.get(i));
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return java.net.http.HttpClient.newBuilder().sslContext(context)
                    .connectTimeout(java.time.Duration.ofSeconds(10)).build();
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust this server's bundle", e);
        }
    }

    public String httpUrl(String path) {
        return "http://127.0.0.1:" + server.httpPort() + path;
    }

    public AdminServiceGrpc.AdminServiceBlockingStub admin() {
        return AdminServiceGrpc.newBlockingStub(channel(adminCredential())).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public dev.lanyard.v1.RevocationServiceGrpc.RevocationServiceBlockingStub revocations() {
        return dev.lanyard.v1.RevocationServiceGrpc.newBlockingStub(channel(adminCredential()))
                .withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public CertificateServiceGrpc.CertificateServiceBlockingStub certificates(Credential client) {
        return CertificateServiceGrpc.newBlockingStub(channel(client)).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public void register(String spiffeId, String... dnsNames) {
        admin().createRegistration(CreateRegistrationRequest.newBuilder()
                .setSpiffeId(spiffeId).addAllDnsNames(List.of(dnsNames)).build());
    }

    public String joinToken(String spiffeId) {
        return admin().createJoinToken(CreateJoinTokenRequest.newBuilder().setSpiffeId(spiffeId).build()).getToken();
    }

    public static Attestation joinTokenAttestation(String token) {
        return Attestation.newBuilder().setJoinToken(JoinTokenAttestation.newBuilder().setToken(token)).build();
    }

    /** Bootstraps a registered {@code spiffeId} with a join token and a new P-256 key, asking for {@code dnsNames}. */
    public Credential bootstrap(String spiffeId, String... dnsNames) {
        KeyPair keys = Csrs.ecP256();
        CertificateResponse response = certificates(null).issueCertificate(IssueCertificateRequest.newBuilder()
                .setAttestation(joinTokenAttestation(joinToken(spiffeId)))
                .setCsr(ByteString.copyFrom(Csrs.csr(keys, dnsNames)))
                .build());
        return credential(keys, response);
    }

    public Credential renew(Credential current) {
        KeyPair keys = Csrs.ecP256();
        CertificateResponse response = certificates(current).renewCertificate(RenewCertificateRequest.newBuilder()
                .setCsr(ByteString.copyFrom(Csrs.csr(keys))).build());
        return credential(keys, response);
    }

    public static Credential credential(KeyPair keys, CertificateResponse response) {
        List<X509Certificate> chain = new ArrayList<>();
        for (ByteString der : response.getChainList()) {
            chain.add(x509(der));
        }
        List<X509Certificate> bundle = new ArrayList<>();
        for (ByteString der : response.getTrustBundleList()) {
            bundle.add(x509(der));
        }
        return new Credential(keys.getPrivate(), x509(response.getCertificate()), chain, bundle);
    }

    public static X509Certificate x509(ByteString der) {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der.toByteArray()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private void closeChannels() {
        for (ManagedChannel channel : channels) {
            channel.shutdownNow();
        }
        channels.clear();
    }

    @Override
    public void close() {
        closeChannels();
        server.close();
    }
}
