package dev.lanyard.client.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * One real TLS handshake between two contexts over a loopback socket, how each side ended it, and the client
 * chain the server's session holds (empty when the client presented none or the handshake failed).
 */
public record Handshake(IOException serverRefusal, IOException clientRefusal, List<X509Certificate> clientChainAtServer) {

    /** Mutual TLS: the server requires a client certificate. */
    public static Handshake mutual(SSLContext server, SSLContext client) throws Exception {
        return between(server, client, true);
    }

    /** The server presents its certificate and asks for none. */
    public static Handshake serverOnly(SSLContext server, SSLContext client) throws Exception {
        return between(server, client, false);
    }

    public boolean succeeded() {
        return serverRefusal == null && clientRefusal == null;
    }

    private static Handshake between(SSLContext server, SSLContext client, boolean needClientAuth) throws Exception {
        ExecutorService acceptor = Executors.newSingleThreadExecutor();
        try (SSLServerSocket listening = (SSLServerSocket) server.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            listening.setNeedClientAuth(needClientAuth);
            Future<ServerSide> serverSide = acceptor.submit(() -> {
                try (SSLSocket accepted = (SSLSocket) listening.accept()) {
                    accepted.setSoTimeout(10_000);
                    // Returns once the client's certificate and Finished are in and checked.
                    accepted.startHandshake();
                    return new ServerSide(null, clientChain(accepted.getSession()));
                } catch (IOException e) {
                    return new ServerSide(e, List.of());
                }
            });
            IOException clientSide = null;
            try (SSLSocket socket = (SSLSocket) client.getSocketFactory().createSocket()) {
                socket.connect(listening.getLocalSocketAddress(), 10_000);
                socket.setSoTimeout(10_000);
                socket.startHandshake();
            } catch (IOException e) {
                clientSide = e;
            }
            ServerSide accepted = serverSide.get(30, TimeUnit.SECONDS);
            return new Handshake(accepted.refusal(), clientSide, accepted.clientChain());
        } finally {
            acceptor.shutdownNow();
        }
    }

    private record ServerSide(IOException refusal, List<X509Certificate> clientChain) {
    }

    private static List<X509Certificate> clientChain(SSLSession session) {
        try {
            return Arrays.stream(session.getPeerCertificates()).map(X509Certificate.class::cast).toList();
        } catch (SSLPeerUnverifiedException noCertificate) {
            return List.of();
        }
    }
}
