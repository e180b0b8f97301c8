package dev.lanyard.client.credentials;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts what {@code chains} trusts (the current bundle's roots, host names as the engine asks), then
 * refuses a peer the {@link PeerRevocations} say is revoked: the trust manager a workload's own TLS
 * contexts and gRPC credentials use for their peers. Channels to Lanyard do not: a revocation watcher's
 * channel must connect before the revocations can load.
 */
final class RevocationCheckingTrustManager extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager chains;
    private final PeerRevocations revocations;

    RevocationCheckingTrustManager(X509ExtendedTrustManager chains, PeerRevocations revocations) {
        this.chains = chains;
        this.revocations = revocations;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        chains.checkClientTrusted(chain, authType, socket);
        revocations.refuseIfRevoked(chain[0]);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        chains.checkServerTrusted(chain, authType, socket);
        revocations.refuseIfRevoked(chain[0]);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        chains.checkClientTrusted(chain, authType, engine);
        revocations.refuseIfRevoked(chain[0]);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        chains.checkServerTrusted(chain, authType, engine);
        revocations.refuseIfRevoked(chain[0]);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        chains.checkClientTrusted(chain, authType);
        revocations.refuseIfRevoked(chain[0]);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        chains.checkServerTrusted(chain, authType);
        revocations.refuseIfRevoked(chain[0]);
    }

    /**
     * None, as {@link FederatedPeerTrust} names none: a server names no CA in its CertificateRequest, so a client's
     * key manager, stock or SPIFFE, presents its SVID and the checks above decide. Naming the roots could not follow
     * a root rotation: Netty's OpenSSL server (gRPC's default) reads the names once, when the server is built, and
     * each Lanyard root has a name of its own, so a stock client under a root added later would present nothing.
     */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
