package dev.lanyard.federation;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * Fetches a foreign bundle from its bundle endpoint over HTTPS, authenticated per profile:
 * {@code https_web} by the web PKI (the JDK's roots, or the operator's {@code federation.web-roots}),
 * {@code https_spiffe} by the foreign bundle held now and the endpoint's SPIFFE ID.
 */
public final class BundleFetcher {

    /** A bundle document larger than this is refused: a 100-key JWKS with a few roots is far smaller. */
    static final int MAX_BUNDLE_BYTES = 1024 * 1024;

    private final Optional<List<X509Certificate>> webRoots;
    private final Duration timeout;

    public BundleFetcher(Optional<List<X509Certificate>> webRoots, Duration timeout) {
        this.webRoots = webRoots.map(List::copyOf);
        this.timeout = timeout;
    }

    /** The document at the endpoint, parsed; IOException for anything that did not give a good bundle. */
    ForeignBundle fetch(FederationRelationship relationship, Optional<ForeignBundle> current) throws IOException {
        SSLContext tls = tls(relationship, current);
        HttpClient client = HttpClient.newBuilder().sslContext(tls).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
        HttpRequest request = HttpRequest.newBuilder(relationship.endpoint()).timeout(timeout)
                .header("Accept", "application/json").GET().build();
        try {
            HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                if (response.statusCode() != 200) {
                    throw new IOException("HTTP " + response.statusCode() + " from " + relationship.endpoint());
                }
                byte[] bytes = body.readNBytes(MAX_BUNDLE_BYTES + 1);
                if (bytes.length > MAX_BUNDLE_BYTES) {
                    throw new IOException("the bundle from " + relationship.endpoint() + " is over " + MAX_BUNDLE_BYTES
                            + " bytes");
                }
                ForeignBundle bundle = ForeignBundle.parse(relationship.trustDomain(),
                        new String(bytes, StandardCharsets.UTF_8));
                return bundle;
            }
        } catch (IllegalArgumentException e) {
            throw new IOException(relationship.endpoint() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private SSLContext tls(FederationRelationship relationship, Optional<ForeignBundle> current) throws IOException {
        try {
            TrustManager[] trust;
            if (relationship.profile() == FederationRelationship.Profile.HTTPS_SPIFFE) {
                if (current.isEmpty()) {
                    throw new IOException("no bundle of " + relationship.trustDomain()
                            + " is held to authenticate its https_spiffe endpoint");
                }
                trust = new TrustManager[] {new SpiffeEndpointTrust(current.get().x509Authorities(),
                        relationship.endpointId().orElseThrow())};
            } else {
                TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                if (webRoots.isPresent()) {
                    KeyStore store = KeyStore.getInstance("PKCS12");
                    store.load(null, null);
                    for (int i = 0; i < webRoots.get().size(); i++) {
                        store.setCertificateEntry("web-root-" + i, webRoots.get().get(i));
                    }
                    factory.init(store);
                } else {
                    factory.init((KeyStore) null); // the JDK's web PKI roots
                }
                trust = factory.getTrustManagers();
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS for " + relationship.endpoint() + ": " + e.getMessage(), e);
        }
    }
}
