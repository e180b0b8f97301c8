package dev.lanyard.client.credentials;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The client end of a connection to a server known by its SPIFFE ID, not its host name: the socket and
 * engine variants check exactly what {@link #checkServerTrusted(X509Certificate[], String)} does, with no
 * endpoint identification (a workload may be registered with any DNS name, so a host name proves nothing),
 * and no client is ever trusted. A subclass says which server it trusts: {@link LanyardServerTrust}, and
 * the command line's own (tools' ServerTrust), which words each refusal for an operator.
 */
public abstract class ServerIdTrustManager extends X509ExtendedTrustManager {

    private final String noClients;

    /** @param noClients what a client certificate is refused with */
    protected ServerIdTrustManager(String noClients) {
        this.noClients = noClients;
    }

    @Override
    public final void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public final void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public final void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException(noClients);
    }

    @Override
    public final void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public final void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        checkClientTrusted(chain, authType);
    }
}
