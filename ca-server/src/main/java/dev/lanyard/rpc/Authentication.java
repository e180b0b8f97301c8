package dev.lanyard.rpc;

import io.grpc.Grpc;
import io.grpc.ServerCall;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The first step of the chain: what the caller's client certificate is worth.
 *
 * <p>Client certificates are optional at the TLS layer (bootstrap and the trust bundle need none),
 * so TLS accepts any certificate the client proves it holds the key for; this step decides, per
 * call, so a refusal is a precise gRPC status instead of a failed handshake. A verified chain is
 * remembered on its TLS session; only its validity period is checked again on later calls.
 */
final class Authentication {

    private static final String SESSION_KEY = "lanyard.authenticated-peer";

    private final ClientCertificateVerifier verifier;

    Authentication(ClientCertificateVerifier verifier) {
        this.verifier = verifier;
    }

    /** An {@link AuthenticatedPeer}, a refusal message (String), or null when no certificate was sent. */
    Object identify(ServerCall<?, ?> call) {
        SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        if (session == null) {
            return null;
        }
        try {
            Object cached = session.getValue(SESSION_KEY);
            AuthenticatedPeer peer;
            if (cached instanceof AuthenticatedPeer known) {
                peer = known;
                verifier.checkTime(peer);
            } else {
                peer = verifier.verify(x509(session.getPeerCertificates()));
                session.putValue(SESSION_KEY, peer);
            }
            return peer;
        } catch (SSLPeerUnverifiedException e) {
            return null;
        } catch (ClientCertificateVerifier.RejectedException e) {
            return e.getMessage();
        }
    }

    private static X509Certificate[] x509(Certificate[] certificates) throws ClientCertificateVerifier.RejectedException {
        X509Certificate[] chain = new X509Certificate[certificates.length];
        for (int i = 0; i < certificates.length; i++) {
            if (!(certificates[i] instanceof X509Certificate x509)) {
                throw new ClientCertificateVerifier.RejectedException("client certificate is not X.509");
            }
            chain[i] = x509;
        }
        return chain;
    }
}
