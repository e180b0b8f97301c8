package dev.lanyard.server;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Puts the caller's verified identity (or why there is none) into the gRPC {@link Context}.
 *
 * <p>Client certificates are optional at the TLS layer (bootstrap and the trust bundle need none),
 * so TLS accepts any certificate the client proves it holds the key for; this interceptor decides
 * what that certificate is worth, per call, so a refusal is a precise gRPC status instead of a
 * failed handshake. A verified chain is remembered on its TLS session; only its validity period is
 * checked again on later calls.
 */
public final class PeerIdentityInterceptor implements ServerInterceptor {

    private static final Context.Key<Object> PEER = Context.key("lanyard-peer");
    private static final String SESSION_KEY = "lanyard.authenticated-peer";

    private final ClientCertificateVerifier verifier;

    public PeerIdentityInterceptor(ClientCertificateVerifier verifier) {
        this.verifier = verifier;
    }

    /** The authenticated caller of the current call, or UNAUTHENTICATED saying why there is none. */
    public static AuthenticatedPeer requirePeer() throws StatusException {
        Object peer = PEER.get();
        if (peer instanceof AuthenticatedPeer authenticated) {
            return authenticated;
        }
        throw Status.UNAUTHENTICATED.withDescription(peer == null
                ? "this call needs a client certificate (mTLS)" : (String) peer).asException();
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        Object peer = session == null ? null : identify(session);
        return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
    }

    /** An {@link AuthenticatedPeer}, a refusal message, or null when no certificate was sent. */
    private Object identify(SSLSession session) {
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
