package dev.lanyard.rpc;

import dev.lanyard.spiffe.SpiffeId;
import java.security.GeneralSecurityException;
import java.security.Provider;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

/**
 * Decides whether a client certificate chain authenticates a workload of this trust domain:
 * the leaf must be signed by one of our intermediates (active or still-live older ones), both
 * must be valid now (by the injected clock), and the leaf must be an X.509-SVID of our trust domain.
 */
public final class ClientCertificateVerifier {

    /** Why a chain was refused; the message is safe to return to the caller. */
    public static final class RejectedException extends Exception {
        private static final long serialVersionUID = 1L;

        public RejectedException(String message) {
            super(message, null, false, false);
        }
    }

    private static final int URI_SAN = 6;

    private final Supplier<Collection<X509Certificate>> intermediates;
    private final String trustDomain;
    private final Provider provider;
    private final Clock clock;

    public ClientCertificateVerifier(Supplier<Collection<X509Certificate>> intermediates, String trustDomain,
            Provider provider, Clock clock) {
        this.intermediates = intermediates;
        this.trustDomain = trustDomain;
        this.provider = provider;
        this.clock = clock;
    }

    /** Verifies signature and profile; the time check is separate so a verified session can be re-checked cheaply. */
    public AuthenticatedPeer verify(X509Certificate[] chain) throws RejectedException {
        if (chain == null || chain.length == 0) {
            throw new RejectedException("no client certificate was presented");
        }
        X509Certificate leaf = chain[0];
        X509Certificate issuer = issuerOf(leaf);
        checkTime(issuer, "the issuing CA of the client certificate");
        if (leaf.getBasicConstraints() >= 0) {
            throw new RejectedException("client certificate is a CA certificate, not an X.509-SVID");
        }
        AuthenticatedPeer peer = new AuthenticatedPeer(spiffeIdOf(leaf), leaf);
        checkTime(peer);
        return peer;
    }

    /** Checks the validity period of an already verified peer at the current time. */
    public void checkTime(AuthenticatedPeer peer) throws RejectedException {
        checkTime(peer.certificate(), "client certificate");
    }

    private X509Certificate issuerOf(X509Certificate leaf) throws RejectedException {
        for (X509Certificate candidate : intermediates.get()) {
            if (!candidate.getSubjectX500Principal().equals(leaf.getIssuerX500Principal())) {
                continue;
            }
            try {
                leaf.verify(candidate.getPublicKey(), provider);
                return candidate;
            } catch (GeneralSecurityException e) {
                // Same name, different key (for example a rotated CA): try the next one.
            }
        }
        throw new RejectedException("client certificate was not issued by this CA (trust domain " + trustDomain + ")");
    }

    /** The URI subject alternative names of {@code cert} (one SPIFFE ID in a valid client certificate). */
    static List<String> uriSans(X509Certificate cert) throws CertificateParsingException {
        Collection<List<?>> sans = cert.getSubjectAlternativeNames();
        return sans == null ? List.of() : sans.stream()
                .filter(san -> ((Integer) san.get(0)) == URI_SAN)
                .map(san -> (String) san.get(1))
                .toList();
    }

    private void checkTime(X509Certificate cert, String what) throws RejectedException {
        Instant now = clock.instant();
        if (now.isAfter(cert.getNotAfter().toInstant())) {
            throw new RejectedException(what + " expired at " + cert.getNotAfter().toInstant());
        }
        if (now.isBefore(cert.getNotBefore().toInstant())) {
            throw new RejectedException(what + " is not valid before " + cert.getNotBefore().toInstant());
        }
    }

    private SpiffeId spiffeIdOf(X509Certificate leaf) throws RejectedException {
        List<String> uris;
        try {
            uris = uriSans(leaf);
        } catch (CertificateParsingException e) {
            throw new RejectedException("client certificate has unreadable subject alternative names");
        }
        if (uris.size() != 1) {
            throw new RejectedException("client certificate must carry exactly one URI SAN (a SPIFFE ID)");
        }
        SpiffeId id;
        try {
            id = SpiffeId.parse(uris.get(0));
        } catch (IllegalArgumentException e) {
            throw new RejectedException("client certificate URI SAN is not a SPIFFE ID: " + e.getMessage());
        }
        if (!id.isMemberOf(trustDomain)) {
            throw new RejectedException("client certificate is for trust domain " + id.trustDomain()
                    + ", not " + trustDomain);
        }
        return id;
    }
}
