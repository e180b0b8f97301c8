package dev.lanyard.publication;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedKeyManager;

/** The TLS side of the publication port. */
public final class TlsContexts {

    private TlsContexts() {
    }

    /**
     * A server context that asks {@code keys} at every handshake (so a renewed or reloaded certificate
     * serves at once), TLS 1.2 and 1.3 only, no client certificate: publication is public.
     */
    public static SslContext server(X509ExtendedKeyManager keys) {
        try {
            return SslContextBuilder.forServer(keys)
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .clientAuth(ClientAuth.NONE)
                    .build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build the publication TLS context: " + e.getMessage(), e);
        }
    }
}
