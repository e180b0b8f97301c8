package dev.lanyard.federation;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
     * 200 or, when {@code etag} still matches, 304; IOException for any other answer, a body over
     * {@code maxBytes}, or an exchange not over within the timeout. The timeout bounds the whole
     * exchange, body included (the JDK's request timeout ends with the headers), so a peer that
     * trickles its body cannot hold the caller.
     */
    Document get(FederationRelationship relationship, Optional<ForeignBundle> current, URI url, Optional<String> etag,
            int maxBytes) throws IOException {
        HttpRequest.Builder request = HttpRequest.newBuilder(url).timeout(timeout).GET();
        etag.ifPresent(tag -> request.header("If-None-Match", tag));
        CompletableFuture<HttpResponse<byte[]>> exchange = client(relationship, current).sendAsync(request.build(),
                info -> info.statusCode() == 200 ? new LimitedBody(url, maxBytes)
                        : HttpResponse.BodySubscribers.replacing(new byte[0]));
        HttpResponse<byte[]> response;
        try {
            response = exchange.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            exchange.cancel(true); // aborts the exchange and closes its connection
            throw new IOException(url + " did not answer in full within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw new IOException(io.getMessage() == null ? io.toString() : io.getMessage(), io);
            }
            throw new IOException(cause == null ? e.toString() : cause.toString(), cause);
        } catch (InterruptedException e) {
            exchange.cancel(true);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (response.statusCode() == 304 && etag.isPresent()) {
            return new Document(304, new byte[0], etag);
        }
        if (response.statusCode() != 200) {
            throw new IOException("HTTP " + response.statusCode() + " from " + url);
        }
        return new Document(200, response.body(), response.headers().firstValue("ETag"));
    }

    /** Collects a body of at most {@code maxBytes}; a larger one fails at once and the rest is not read. */
    private static final class LimitedBody implements HttpResponse.BodySubscriber<byte[]> {
        private final URI url;
        private final int maxBytes;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private Flow.Subscription subscription;

        LimitedBody(URI url, int maxBytes) {
            this.url = url;
            this.maxBytes = maxBytes;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            this.subscription = subscription;
            subscription.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            for (ByteBuffer buffer : buffers) {
                if (bytes.size() + buffer.remaining() > maxBytes) {
                    subscription.cancel();
                    body.completeExceptionally(new IOException("the document at " + url + " is over " + maxBytes
                            + " bytes"));
                    return;
                }
                byte[] chunk = new byte[buffer.remaining()];
                buffer.get(chunk);
                bytes.writeBytes(chunk);
            }
            subscription.request(1);
        }

        @Override
        public void onError(Throwable error) {
            body.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            body.complete(bytes.toByteArray());
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
