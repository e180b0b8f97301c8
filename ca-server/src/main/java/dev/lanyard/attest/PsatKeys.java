package dev.lanyard.attest;

import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import dev.lanyard.crypto.Pem;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.text.ParseException;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * The cluster's signing keys for {@link PsatAttestor}: a JWKS file read at start, or an https URL fetched
 * and cached, whose server must chain to the CA certificates of {@code psat.jwks-ca-file} when set (else
 * to the JDK's roots). Whoever serves the keys decides which agents attest, so plain http is refused.
 */
public final class PsatKeys {

    // More than Nimbus' 500 ms: the first fetch comes with an attestation and a TLS handshake on a busy server.
    private static final int CONNECT_TIMEOUT_MS = 2_000;
    private static final int READ_TIMEOUT_MS = 5_000;

    private PsatKeys() {
    }

    public static JWKSource<SecurityContext> source(Optional<Path> file, Optional<URI> url, Optional<Path> caFile)
            throws IOException {
        if (file.isPresent()) {
            try {
                return new ImmutableJWKSet<>(JWKSet.load(file.get().toFile()));
            } catch (ParseException e) {
                throw new IOException("psat.jwks-file " + file.get() + " is not a JWKS: " + e.getMessage(), e);
            }
        }
        URI jwks = url.orElseThrow();
        if (!"https".equalsIgnoreCase(jwks.getScheme())) {
            throw new IOException("psat.jwks-url must be an https:// URL, not " + jwks);
        }
        SSLSocketFactory tls = caFile.isPresent() ? trusting(caFile.get()) : null; // null: the JDK's roots
        try {
            // Cached, refreshed in the background, refetched (rate limited) for an unknown key id.
            return JWKSourceBuilder.create(jwks.toURL(), new DefaultResourceRetriever(CONNECT_TIMEOUT_MS,
                    READ_TIMEOUT_MS, JWKSourceBuilder.DEFAULT_HTTP_SIZE_LIMIT, true, tls)).build();
        } catch (MalformedURLException | IllegalArgumentException e) {
            throw new IOException("psat.jwks-url is not a URL: " + e.getMessage(), e);
        }
    }

    /** TLS that trusts only the CA certificates in {@code caFile} (PEM). */
    private static SSLSocketFactory trusting(Path caFile) throws IOException {
        List<X509Certificate> cas;
        try {
            cas = Pem.parseCertificates(Files.readString(caFile));
        } catch (IllegalArgumentException e) {
            throw new IOException("psat.jwks-ca-file " + caFile + ": " + e.getMessage(), e);
        }
        if (cas.isEmpty()) {
            throw new IOException("psat.jwks-ca-file " + caFile + " holds no PEM certificate");
        }
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                store.setCertificateEntry("ca-" + i, cas.get(i));
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context.getSocketFactory();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS with psat.jwks-ca-file " + caFile + ": " + e.getMessage(), e);
        }
    }
}
