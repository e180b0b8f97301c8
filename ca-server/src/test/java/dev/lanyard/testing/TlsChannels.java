package dev.lanyard.testing;

import dev.lanyard.credential.Credential;
import dev.lanyard.server.ReloadingKeyManager;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.TrustManagerFactory;

/** Real TLS gRPC channels to a Lanyard server on loopback. */
public final class TlsChannels {

    private TlsChannels() {
    }

    /** A channel to localhost:{@code port} trusting {@code roots}, presenting {@code client} if not null. */
    public static ManagedChannel open(int port, List<X509Certificate> roots, Credential client) {
        return Grpc.newChannelBuilderForAddress("localhost", port, credentials(roots, client)).build();
    }

    /** TLS credentials trusting {@code roots}, presenting {@code client} if not null (for custom channel builders). */
    public static ChannelCredentials credentials(List<X509Certificate> roots, Credential client) {
        try {
            KeyStore trusted = KeyStore.getInstance("PKCS12");
            trusted.load(null, null);
            int i = 0;
            for (X509Certificate root : roots) {
                trusted.setCertificateEntry("root-" + i++, root);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
            trust.init(trusted);
            TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder()
                    .trustManager(trust.getTrustManagers());
            if (client != null) {
                tls.keyManager(new ReloadingKeyManager(client));
            }
            return tls.build();
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
