package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.DevServerProcess;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TlsChannels;
import dev.lanyard.v1.AdminServiceGrpc;
import dev.lanyard.v1.CertificateServiceGrpc;
import dev.lanyard.v1.CreateJoinTokenRequest;
import dev.lanyard.v1.CreateRegistrationRequest;
import dev.lanyard.v1.IssueCertificateRequest;
import dev.lanyard.v1.ListRevocationsRequest;
import dev.lanyard.v1.RevocationEvent;
import dev.lanyard.v1.RevocationReason;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.WatchRevocationsRequest;
import io.grpc.ManagedChannel;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.CertificateFactory;
import java.security.cert.X509CRL;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A server process killed (SIGKILL, no shutdown hook) right after a revocation returned, on either embedded store. */
class KilledServerTest {

    static final String WORKLOAD = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    Path dir;
    Process process;
    final List<ManagedChannel> channels = new ArrayList<>();
    int grpcPort;
    int httpPort;

    @AfterEach
    void stop() {
        channels.forEach(ManagedChannel::shutdownNow);
        if (process != null) {
            process.destroyForcibly();
        }
    }

    String store;

    @ParameterizedTest
    @ValueSource(strings = {"h2", "sqlite"})
    void aRevocationThatReturnedSurvivesAKill(String embedded) throws Exception {
        store = embedded;
        start(0, 0);
        Credential admin = new CredentialDirectory(dir.resolve("admin")).read(CryptoProviders.bouncyCastleOnly());
        AdminServiceGrpc.newBlockingStub(channel(admin)).createRegistration(
                CreateRegistrationRequest.newBuilder().setSpiffeId(WORKLOAD).build());
        String joinToken = AdminServiceGrpc.newBlockingStub(channel(admin)).createJoinToken(
                CreateJoinTokenRequest.newBuilder().setSpiffeId(WORKLOAD).build()).getToken();
        KeyPair keys = Csrs.ecP256();
        Credential workload = RunningServer.credential(keys, CertificateServiceGrpc.newBlockingStub(channel(null))
                .issueCertificate(IssueCertificateRequest.newBuilder()
                        .setAttestation(RunningServer.joinTokenAttestation(joinToken))
                        .setCsr(ByteString.copyFrom(Csrs.csr(keys))).build()));
        // A watcher that is caught up (it saw the heartbeat after the replay) and then goes away.
        ManagedChannel watcherChannel = channel(workload);
        Iterator<RevocationEvent> first = RevocationServiceGrpc.newBlockingStub(watcherChannel)
                .watchRevocations(WatchRevocationsRequest.getDefaultInstance());
        RevocationEvent caughtUp = first.next();
        assertThat(caughtUp.hasHeartbeat()).isTrue();
        long lastSeen = caughtUp.getSequence();
        watcherChannel.shutdownNow();

        RevocationServiceGrpc.newBlockingStub(channel(admin)).revoke(RevokeRequest.newBuilder()
                .setTarget(RevocationTarget.newBuilder().setSpiffeId(WORKLOAD))
                .setReason(RevocationReason.REVOCATION_REASON_KEY_COMPROMISE).build());
        process.destroyForcibly();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        channels.forEach(ManagedChannel::shutdownNow);
        channels.clear();

        start(grpcPort, httpPort);

        assertThat(RevocationServiceGrpc.newBlockingStub(channel(admin))
                .listRevocations(ListRevocationsRequest.getDefaultInstance()).getRevocationsList())
                .extracting(r -> r.getTarget().getSpiffeId().isEmpty() ? r.getTarget().getSerial() : r.getTarget().getSpiffeId())
                .containsExactly(WORKLOAD, workload.leaf().getSerialNumber().toString(16));
        X509CRL crl = crl();
        assertThat(crl.getRevokedCertificate(workload.leaf().getSerialNumber())).isNotNull();
        // The revoked workload itself is refused everywhere now; another watcher resumes.
        Iterator<RevocationEvent> resumed = RevocationServiceGrpc.newBlockingStub(channel(admin))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .watchRevocations(WatchRevocationsRequest.newBuilder().setAfterSequence(lastSeen).build());
        assertThat(resumed.next().getRevoked().getTarget().getSpiffeId()).isEqualTo(WORKLOAD);
        assertThat(resumed.next().getRevoked().getTarget().getSerial())
                .isEqualTo(workload.leaf().getSerialNumber().toString(16));
    }

    private void start(int grpc, int http) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                DevServerProcess.class.getName(), dir.toString(), Integer.toString(grpc), Integer.toString(http),
                "database.embedded=" + store)
                .redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        String line;
        while ((line = out.readLine()) != null) {
            lines.add(line);
            if (line.startsWith("READY ")) {
                String[] ports = line.split(" ");
                grpcPort = Integer.parseInt(ports[1]);
                httpPort = Integer.parseInt(ports[2]);
                Thread drain = new Thread(() -> out.lines().forEach(ignored -> { }));
                drain.setDaemon(true);
                drain.start();
                return;
            }
        }
        throw new AssertionError("the server process ended before it was ready:\n" + String.join("\n", lines));
    }

    private ManagedChannel channel(Credential client) throws Exception {
        Credential admin = new CredentialDirectory(dir.resolve("admin")).read(CryptoProviders.bouncyCastleOnly());
        ManagedChannel channel = TlsChannels.open(grpcPort, admin.bundle(), client);
        channels.add(channel);
        return channel;
    }

    private X509CRL crl() throws Exception {
        HttpResponse<byte[]> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/crl")).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(response.statusCode()).isEqualTo(200);
        return (X509CRL) CertificateFactory.getInstance("X.509").generateCRL(new ByteArrayInputStream(response.body()));
    }
}
