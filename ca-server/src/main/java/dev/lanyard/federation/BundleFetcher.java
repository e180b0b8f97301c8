package dev.lanyard.federation;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
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
    private final Map<String, Client> clients = new ConcurrentHashMap<>();

    public BundleFetcher(Optional<List<X509Certificate>> webRoots, Duration timeout) {
        this.webRoots = webRoots.map(List::copyOf);
        this.timeout = timeout;
    }

    /** The document at the endpoint, parsed; IOException for anything that did not give a good bundle. */
    ForeignBundle fetch(FederationRelationship relationship, Optional<ForeignBundle> current) throws IOException {
        Document document = get(relationship, current, relationship.endpoint(), Optional.empty(), MAX_BUNDLE_BYTES);
        try {
            return ForeignBundle.parse(relationship.trustDomain(), new String(document.body(), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IOException(relationship.endpoint() + ": " + e.getMessage(), e);
        }
    }

    /** A document as served: 200 with its body, or 304 (not modified, empty body); its ETag if it had one. */
    record Document(int status, byte[] body, Optional<String> etag) {
    }

    /**
     * GETs {@code url} (on the endpoint's host) over the same authenticated channel as the bundle:
     * 200 or, when {@code etag} still matches, 304; IOException for any other answer or a body over
     * {@code maxBytes}.
     */
    Document get(FederationRelationship relationship, Optional<ForeignBundle> current, URI url, Optional<String> etag,
            int maxBytes) throws IOException {
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(timeout).GET();
        etag.ifPresent(tag -> request.header("If-None-Match", tag));
        try {
            HttpResponse<InputStream> response = client(relationship, current).send(request.build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                if (response.statusCode() == 304 && etag.isPresent()) {
                    return new Document(304, new byte[0], etag);
                }
                if (response.statusCode() != 200) {
                    throw new IOException("HTTP " + response.statusCode() + " from " + url);
                }
                byte[] bytes = body.readNBytes(maxBytes + 1);
                if (bytes.length > maxBytes) {
                    throw new IOException("the document at " + url + " is over " + maxBytes + " bytes");
                }
                return new Document(200, bytes, response.headers().firstValue("ETag"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /**
     * One client per relationship, kept while what authenticates its endpoint is unchanged, so a
     * poll every second reuses its connection instead of a TLS handshake (and a thread) each time.
     */
    private HttpClient client(FederationRelationship relationship, Optional<ForeignBundle> current) throws IOException {
        String key = relationship.toString() + (relationship.profile() == FederationRelationship.Profile.HTTPS_SPIFFE
                ? current.map(ForeignBundle::json).orElse("") : "");
        Client cached = clients.get(relationship.trustDomain());
        if (cached != null && cached.key().equals(key)) {
            return cached.client();
        }
        HttpClient client = HttpClient.newBuilder().sslContext(tls(relationship, current)).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
        clients.put(relationship.trustDomain(), new Client(key, client));
        return client;
    }

    private record Client(String key, HttpClient client) {
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
