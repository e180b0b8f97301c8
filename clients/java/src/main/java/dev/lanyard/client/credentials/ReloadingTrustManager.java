package dev.lanyard.client.credentials;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts the roots of the current trust bundle and follows it as it changes (a CA rotation adds a
 * root before anything is signed under it). Validation, including host-name checks when the TLS
 * engine asks for them, is the JDK's PKIX trust manager's; this class only swaps which roots it uses.
 */
final class ReloadingTrustManager extends X509ExtendedTrustManager {

    private record Current(List<X509Certificate> roots, X509ExtendedTrustManager delegate) {
    }

    private final AtomicReference<Current> current;

    ReloadingTrustManager(List<X509Certificate> roots) {
        current = new AtomicReference<>(build(roots));
    }

    void update(List<X509Certificate> roots) {
        current.set(build(roots));
    }

    List<X509Certificate> roots() {
        return current.get().roots();
    }

    /** A PKIX trust manager for exactly these roots. */
    static X509ExtendedTrustManager pkix(List<X509Certificate> roots) {
        return build(roots).delegate();
    }

    private static Current build(List<X509Certificate> roots) {
        if (roots.isEmpty()) {
            throw new IllegalArgumentException("a trust bundle needs at least one root certificate");
        }
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            List<X509Certificate> copy = new ArrayList<>(roots);
            for (int i = 0; i < copy.size(); i++) {
                store.setCertificateEntry("root-" + i, copy.get(i));
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
            factory.init(store);
            for (TrustManager manager : factory.getTrustManagers()) {
                if (manager instanceof X509ExtendedTrustManager x509) {
                    return new Current(List.copyOf(copy), x509);
                }
            }
            throw new IllegalStateException("the PKIX trust manager factory made no X.509 trust manager");
        } catch (GeneralSecurityException | java.io.IOException e) {
            throw new IllegalStateException("cannot build a trust manager for the bundle: " + e.getMessage(), e);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        current.get().delegate().checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        current.get().delegate().checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        current.get().delegate().checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        current.get().delegate().checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        current.get().delegate().checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        current.get().delegate().checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return current.get().delegate().getAcceptedIssuers();
    }
}
