package dev.lanyard.testing;

import com.nimbusds.jose.jwk.JWKSet;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.lanyard.crypto.Pem;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A Kubernetes API server's JWKS endpoint as Lanyard meets it: {@code https://localhost:PORT/openid/v1/jwks}
 * over real TLS, its certificate signed by a cluster CA made here (which the JDK does not trust).
 */
public final class HttpsJwks implements AutoCloseable {

    private final X509Certificate ca;
    private final HttpsServer server;
    private final AtomicInteger fetches = new AtomicInteger();

    private HttpsJwks(X509Certificate ca, HttpsServer server) {
        this.ca = ca;
        this.server = server;
    }

    /** Serves {@code keys} (their public halves) until closed. */
    public static HttpsJwks serve(JWKSet keys) throws Exception {
        Instant now = Instant.now();
        KeyPair caKeys = Csrs.ecP256();
        KeyPair serverKeys = Csrs.ecP256();
        X500Name caName = new X500Name("CN=cluster-ca");
        X509Certificate ca = sign(new JcaX509v3CertificateBuilder(caName, BigInteger.ONE, Date.from(now.minusSeconds(60)),
                Date.from(now.plus(Duration.ofDays(1))), caName, caKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign)), caKeys);
        X509Certificate leaf = sign(new JcaX509v3CertificateBuilder(caName, BigInteger.TWO, Date.from(now.minusSeconds(60)),
                Date.from(now.plus(Duration.ofDays(1))), new X500Name("CN=kube-apiserver"), serverKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                .addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, "localhost"))), caKeys);

        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("server", serverKeys.getPrivate(), new char[0], new Certificate[] {leaf, ca});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, new char[0]);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);

        HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        HttpsJwks jwks = new HttpsJwks(ca, server);
        byte[] body = keys.toPublicJWKSet().toString().getBytes(StandardCharsets.UTF_8);
        server.createContext("/openid/v1/jwks", exchange -> {
            jwks.fetches.incrementAndGet();
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        return jwks;
    }

    public URI url() {
        return URI.create("https://localhost:" + server.getAddress().getPort() + "/openid/v1/jwks");
    }

    /** Writes the cluster CA as PEM (what psat.jwks-ca-file names). */
    public Path writeCa(Path file) throws IOException {
        Files.writeString(file, Pem.certificates(List.of(ca)), StandardCharsets.US_ASCII);
        return file;
    }

    /** How many times the JWKS was served. */
    public int fetches() {
        return fetches.get();
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private static X509Certificate sign(org.bouncycastle.cert.X509v3CertificateBuilder builder, KeyPair issuer) throws Exception {
        return new JcaX509CertificateConverter().getCertificate(
                builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.getPrivate())));
    }
}
