package dev.lanyard.publication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.server.LanyardServer;
import dev.lanyard.server.ServerConfig;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.WebPki;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The publication port over TLS, on a real server: with the server's SPIFFE certificate
 * ({@code http.tls=spiffe}) and with an operator's web certificate whose files are replaced while
 * it runs ({@code http.tls=web}); plain HTTP is not answered on a TLS port; the issuer may be
 * {@code https://host} without a port; a client that opens a connection and says nothing is cut off.
 */
class HttpsPublicationTest {

    @TempDir
    Path dir;
    RunningServer lanyard;

    @AfterEach
    void stop() {
        if (lanyard != null) {
            lanyard.close();
        }
    }

    @Test
    void spiffeProfileServesTheServerSvidAndPublishesHttpsUrls() throws Exception {
        lanyard = RunningServer.start(dir.resolve("a"), Map.of("http.tls", "spiffe"));
        LanyardServer server = lanyard.server();
        String base = "https://localhost:" + server.httpPort();
        assertThat(server.config().issuer()).isEqualTo(base);

        HttpClient client = client(server.trustBundle());
        HttpResponse<String> jwks = client.send(get(base + "/.well-known/jwks.json"), HttpResponse.BodyHandlers.ofString());
        assertThat(jwks.statusCode()).isEqualTo(200);
        assertThat(jwks.body()).contains("\"keys\"");
        X509Certificate presented = (X509Certificate) jwks.sslSession().orElseThrow().getPeerCertificates()[0];
        assertThat(presented.getSubjectAlternativeNames()).contains(
                List.of(6, server.config().serverId().toString()));

        HttpResponse<String> discovery = client.send(get(base + "/.well-known/openid-configuration"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(discovery.body()).contains("\"issuer\":\"" + base + "\"",
                "\"jwks_uri\":\"" + base + "/.well-known/jwks.json\"");
        assertThat(client.send(get(base + "/bundle"), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        assertThat(client.send(get(base + "/crl"), HttpResponse.BodyHandlers.ofByteArray()).statusCode()).isEqualTo(200);

        // plain HTTP on the TLS port gets no HTTP answer
        try (Socket plain = new Socket("127.0.0.1", server.httpPort())) {
            plain.setSoTimeout(10_000);
            plain.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(plain.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(answer).doesNotStartWith("HTTP/");
        }
        // a client that trusts only the web PKI (not this trust domain) refuses the SPIFFE certificate
        HttpClient web = client(List.of(WebPki.selfSigned("localhost").certificate()));
        assertThatThrownBy(() -> web.send(get(base + "/healthz"), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(SSLHandshakeException.class);
    }

    @Test
    void webProfileServesTheOperatorsCertificateAndReloadsItWhenTheFilesChange() throws Exception {
        Path certificateFile = dir.resolve("web.pem");
        Path keyFile = dir.resolve("web.key");
        WebPki first = WebPki.selfSigned("localhost");
        first.write(certificateFile, keyFile);
        lanyard = RunningServer.start(dir.resolve("b"), Map.of("http.tls", "web",
                "http.tls.cert-file", certificateFile.toString(), "http.tls.key-file", keyFile.toString(),
                "http.tls.reload-interval", "200ms"));
        String base = "https://localhost:" + lanyard.server().httpPort();
        assertThat(presented(base, first)).isEqualTo(first.certificate());

        WebPki second = WebPki.selfSigned("localhost");
        second.write(certificateFile, keyFile);
        assertThat(awaitPresented(base, second)).as("the replaced files serve without a restart")
                .isEqualTo(second.certificate());

        // a broken pair (key of another certificate) keeps the last good one serving
        WebPki third = WebPki.selfSigned("localhost");
        Files.writeString(certificateFile, dev.lanyard.crypto.Pem.certificates(List.of(third.certificate())));
        Files.writeString(keyFile, dev.lanyard.crypto.Pem.privateKey(first.keys().getPrivate()));
        Thread.sleep(1_000); // five reload intervals
        assertThat(presented(base, second)).isEqualTo(second.certificate());
    }

    @Test
    void aWebProfileWithoutItsFilesOrAnHttpIssuerWithTlsIsRefusedAtStart() {
        assertThatThrownBy(() -> RunningServer.start(dir.resolve("c"), Map.of("http.tls", "web")))
                .hasMessageContaining("http.tls=web needs http.tls.cert-file and http.tls.key-file");
        assertThatThrownBy(() -> RunningServer.start(dir.resolve("d"), Map.of("http.tls", "spiffe",
                "public-url", "http://ca.example")))
                .hasMessageContaining("public-url http://ca.example is http:// but http.tls=spiffe serves TLS");
        assertThatThrownBy(() -> RunningServer.start(dir.resolve("e"), Map.of("http.tls", "web",
                "http.tls.cert-file", dir.resolve("missing.pem").toString(),
                "http.tls.key-file", dir.resolve("missing.key").toString())))
                .hasMessageContaining("cannot read " + dir.resolve("missing.pem"));
    }

    @Test
    void theIssuerMayBeAnHttpsHostWithoutAPort() throws Exception {
        lanyard = RunningServer.start(dir.resolve("f"), Map.of("http.tls", "spiffe",
                "public-url", "https://ca.acme.example"));
        LanyardServer server = lanyard.server();
        assertThat(server.config().issuer()).isEqualTo("https://ca.acme.example");
        HttpResponse<String> discovery = client(server.trustBundle()).send(
                get("https://localhost:" + server.httpPort() + "/.well-known/openid-configuration"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(discovery.body()).contains("\"issuer\":\"https://ca.acme.example\"",
                "\"jwks_uri\":\"https://ca.acme.example/.well-known/jwks.json\"");
    }

    @Test
    void aSilentClientIsCutOffAtTheHeaderTimeoutBeforeAnyHandshake() throws Exception {
        lanyard = RunningServer.start(dir.resolve("g"), Map.of("http.tls", "spiffe", "http.header-timeout", "1s",
                "http.idle-timeout", "30s"));
        try (Socket silent = new Socket()) {
            silent.connect(new InetSocketAddress("127.0.0.1", lanyard.server().httpPort()));
            silent.setSoTimeout(10_000);
            long start = System.nanoTime();
            InputStream in = silent.getInputStream();
            while (in.read() != -1) {
                // whatever the server says before it closes (nothing, or a TLS alert)
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
        }
        // and a TLS client that finishes its handshake but sends no request is cut off likewise
        SSLContext tls = sslContext(lanyard.server().trustBundle());
        try (SSLSocket idle = (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", lanyard.server().httpPort())) {
            idle.startHandshake();
            idle.setSoTimeout(10_000);
            String answer = new String(idle.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 408");
        }
    }

    private static X509Certificate presented(String base, WebPki trusted) throws Exception {
        HttpResponse<String> response = client(List.of(trusted.certificate())).send(get(base + "/healthz"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return (X509Certificate) response.sslSession().orElseThrow().getPeerCertificates()[0];
    }

    private static X509Certificate awaitPresented(String base, WebPki expected) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try {
                return presented(base, expected);
            } catch (IOException e) { // a handshake that meets the old certificate
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    private static HttpRequest get(String url) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build();
    }

    static HttpClient client(List<X509Certificate> trusted) throws Exception {
        return HttpClient.newBuilder().sslContext(sslContext(trusted)).connectTimeout(Duration.ofSeconds(5)).build();
    }

    static SSLContext sslContext(List<X509Certificate> trusted) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        for (int i = 0; i < trusted.size(); i++) {
            store.setCertificateEntry("trusted-" + i, trusted.get(i));
        }
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trust.getTrustManagers(), null);
        return context;
    }
}
