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
 * certificate is renewed without a restart. Every credential has an alias of its own and the key
 * and chain are looked up by that alias, the previous one included: a handshake that chose an alias
 * just before a swap still gets a key and chain that belong together (BoringSSL refuses a mismatched
 * pair with an internal_error alert), and a TLS stack caching key material per alias never serves a
 * stale pair.
 */
public final class ReloadingKeyManager extends X509ExtendedKeyManager {

    private record Entry(String alias, Credential credential) {
    }

    private record Entries(Entry current, Entry previous) {
    }

    private final AtomicReference<Entries> entries;

    public ReloadingKeyManager(Credential initial) {
        entries = new AtomicReference<>(new Entries(entry(initial), null));
    }

    public void update(Credential credential) {
        entries.updateAndGet(e -> new Entries(entry(credential), e.current()));
    }

    public Credential credential() {
        return entries.get().current().credential();
    }

    private static Entry entry(Credential credential) {
        return new Entry("lanyard-" + credential.leaf().getSerialNumber().toString(16), credential);
    }

    private Credential lookup(String alias) {
        Entries e = entries.get();
        if (e.current().alias().equals(alias)) {
            return e.current().credential();
        }
        if (e.previous() != null && e.previous().alias().equals(alias)) {
            return e.previous().credential();
        }
        return null;
    }

    private String currentAlias() {
        return entries.get().current().alias();
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return currentAlias();
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return currentAlias();
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return currentAlias();
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return currentAlias();
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return new String[] {currentAlias()};
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return new String[] {currentAlias()};
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Credential credential = lookup(alias);
        return credential == null ? null : credential.certificateChain();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        Credential credential = lookup(alias);
        return credential == null ? null : credential.privateKey();
    }
}
