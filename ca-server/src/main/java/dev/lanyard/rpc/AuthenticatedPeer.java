package dev.lanyard.rpc;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.token.BoundCertificate;
import java.security.cert.X509Certificate;

/**
 * A caller whose client certificate chains to this CA and was valid when the call arrived, with that
 * certificate as tokens are bound to it, read once: a peer is kept on its TLS session.
 */
public final class AuthenticatedPeer {

    private final SpiffeId spiffeId;
    private final X509Certificate certificate;
    private final BoundCertificate bound;

    public AuthenticatedPeer(SpiffeId spiffeId, X509Certificate certificate) {
        this.spiffeId = spiffeId;
        this.certificate = certificate;
        this.bound = BoundCertificate.of(certificate);
    }

    public SpiffeId spiffeId() {
        return spiffeId;
    }

    public X509Certificate certificate() {
        return certificate;
    }

    /** The certificate's serial, thumbprint and expiry, as tokens bound to it carry them. */
    public BoundCertificate bound() {
        return bound;
    }

    /** The certificate's serial number in hex, as revocations and issuance records name it. */
    public String serialHex() {
        return bound.serialHex();
    }

    @Override
    public String toString() {
        return "AuthenticatedPeer[" + spiffeId + ", serial " + serialHex() + "]";
    }
}
