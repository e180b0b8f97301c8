package dev.lanyard.client.credentials;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * A key manager whose SVID is swapped on every renewal, so TLS contexts built on it never need
 * rebuilding. Each SVID gets its own alias, and the previous one still resolves, so a handshake
 * that chose an alias just before a swap gets the key and chain that belong together.
 */
final class ReloadingKeyManager extends X509ExtendedKeyManager {

    private record Entry(String alias, Svid svid) {
    }

    private record Entries(Entry current, Entry previous) {
    }

    private final AtomicReference<Entries> entries;

    ReloadingKeyManager(Svid initial) {
        entries = new AtomicReference<>(new Entries(entry(initial), null));
    }

    void update(Svid svid) {
        entries.updateAndGet(e -> new Entries(entry(svid), e.current()));
    }

    Svid current() {
        return entries.get().current().svid();
    }

    private static Entry entry(Svid svid) {
        return new Entry("lanyard-svid-" + svid.serialHex(), svid);
    }

    private Svid lookup(String alias) {
        Entries e = entries.get();
        if (e.current().alias().equals(alias)) {
            return e.current().svid();
        }
        if (e.previous() != null && e.previous().alias().equals(alias)) {
            return e.previous().svid();
        }
        return null;
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        return entries.get().current().alias();
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        return entries.get().current().alias();
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        return entries.get().current().alias();
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        return entries.get().current().alias();
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return new String[] {entries.get().current().alias()};
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return new String[] {entries.get().current().alias()};
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Svid svid = lookup(alias);
        return svid == null ? null : svid.certificateChain();
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        Svid svid = lookup(alias);
        return svid == null ? null : svid.privateKey();
    }

    @Override
    public String toString() {
        return "ReloadingKeyManager[" + current() + "]";
    }
}
