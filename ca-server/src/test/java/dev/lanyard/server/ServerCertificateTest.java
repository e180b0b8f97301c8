package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.GetTrustBundleRequest;
import dev.lanyard.v1.TrustBundle;
import dev.lanyard.v1.TrustBundleServiceGrpc;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's own certificate, the public endpoints, health and reflection. */
class ServerCertificateTest {

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void serverCertificateIsRenewedWithoutRestart() throws Exception {
        var channel = lanyard.channel(null);
        var bundle = TrustBundleServiceGrpc.newBlockingStub(channel);
        bundle.getTrustBundle(GetTrustBundleRequest.getDefaultInstance());
        BigInteger before = presentedSerial();
        assertThat(before).isEqualTo(lanyard.server().serverCertificate().getSerialNumber());

        lanyard.server().renewServerCertificateNow();

        BigInteger after = presentedSerial();
        assertThat(after).isNotEqualTo(before).isEqualTo(lanyard.server().serverCertificate().getSerialNumber());
        // An established channel keeps working across the swap.
        assertThat(bundle.getTrustBundle(GetTrustBundleRequest.getDefaultInstance()).getX509AuthoritiesCount()).isOne();
        assertThat(CertificateServiceTest.spiffeIdOf(lanyard.server().serverCertificate()))
                .isEqualTo("spiffe://lanyard.local/lanyard/server");
        assertThat(CertificateServiceTest.dnsNamesOf(lanyard.server().serverCertificate())).containsExactly("localhost");
    }

    @Test
    void trustBundleIsPublicOverGrpcAndHttp() throws Exception {
        TrustBundle bundle = TrustBundleServiceGrpc.newBlockingStub(lanyard.channel(null))
                .getTrustBundle(GetTrustBundleRequest.getDefaultInstance());
        assertThat(bundle.getTrustDomain()).isEqualTo("lanyard.local");
        assertThat(bundle.getSequence()).isPositive();
        assertThat(RunningServer.x509(bundle.getX509Authorities(0)))
                .isEqualTo(lanyard.server().trustBundle().get(0));

        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create("http://127.0.0.1:" + lanyard.server().httpPort() + "/bundle.pem");
        HttpResponse<String> first = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(first.headers().firstValue("Cache-Control")).contains("max-age=300");
        String etag = first.headers().firstValue("ETag").orElseThrow();
        HttpResponse<String> second = http.send(HttpRequest.newBuilder(uri).header("If-None-Match", etag).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(second.statusCode()).isEqualTo(304);
        HttpResponse<String> missing = http.send(HttpRequest.newBuilder(uri.resolve("/nothing")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(404);
    }

    @Test
    void healthAndReflectionAnswer() throws Exception {
        var channel = lanyard.channel(null);
        assertThat(HealthGrpc.newBlockingStub(channel).check(HealthCheckRequest.getDefaultInstance()).getStatus())
                .isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
        var requests = ServerReflectionGrpc.newStub(channel).serverReflectionInfo(new StreamObserver<>() {
            @Override
            public void onNext(ServerReflectionResponse value) {
                answer.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                answer.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        requests.onCompleted();
        assertThat(answer.get(10, TimeUnit.SECONDS).getListServicesResponse().getServiceList())
                .extracting(s -> s.getName())
                .contains("lanyard.v1.CertificateService", "lanyard.v1.AdminService", "lanyard.v1.TrustBundleService");
    }

    private BigInteger presentedSerial() throws Exception {
        KeyStore roots = KeyStore.getInstance("PKCS12");
        roots.load(null, null);
        roots.setCertificateEntry("root", lanyard.server().trustBundle().get(0));
        TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
        trust.init(roots);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("localhost",
                lanyard.server().grpcPort())) {
            var parameters = socket.getSSLParameters();
            parameters.setApplicationProtocols(new String[] {"h2"});
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }
}
