package dev.lanyard.server;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.function.Supplier;
import javax.net.ssl.X509TrustManager;

/**
 * The TLS-layer trust manager for client certificates: it asks for a certificate issued by our
 * CAs but accepts whatever the client proves it holds the key for, because bootstrap needs no
 * certificate and a bad one must get a precise gRPC status, not a failed handshake. The real
 * decision is {@link ClientCertificateVerifier}'s, per call, in {@link PeerIdentityInterceptor}.
 */
final class ClientCertificateRequest implements X509TrustManager {

    private final Supplier<List<X509Certificate>> acceptedIssuers;

    ClientCertificateRequest(Supplier<List<X509Certificate>> acceptedIssuers) {
        this.acceptedIssuers = acceptedIssuers;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {
        // Deliberately empty: see the class comment. The handshake still proves key possession.
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("this trust manager only ever sees client certificates");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return acceptedIssuers.get().toArray(X509Certificate[]::new);
    }
}
