package dev.lanyard.server;

import dev.lanyard.credential.Credential;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager whose credential can be swapped while the server runs, so a short-lived server
 * certificate is renewed without a restart. The alias changes with every credential so that a
 * TLS stack caching key material per alias never serves a stale pair.
 */
public final class ReloadingKeyManager extends X509ExtendedKeyManager {

    private record Current(String alias, Credential credential) {
    }

    private final AtomicReference<Current> current;

    public ReloadingKeyManager(Credential initial) {
        current = new AtomicReference<>(new Current(aliasOf(initial), initial));
    }

    public void update(Credential credential) {
        current.set(new Current(aliasOf(credential), credential));
    }

    public Credential credential() {
        return current.get().credential();
    }

    private static String aliasOf(Credential credential) {
        return "lanyard-" + credential.leaf().getSerialNumber().toString(16);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return current.get().alias();
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return current.get().alias();
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return current.get().alias();
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return current.get().alias();
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return new String[] {current.get().alias()};
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return new String[] {current.get().alias()};
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Current c = current.get();
        return c.credential().certificateChain();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        return current.get().credential().privateKey();
    }
}
