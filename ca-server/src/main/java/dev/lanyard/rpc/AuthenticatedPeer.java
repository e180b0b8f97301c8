package dev.lanyard.rpc;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.token.BoundCertificate;
import java.security.cert.X509Certificate;

/**
 * A caller whose client certificate chains to this CA and was valid when the call arrived, with that
 * certificate as tokens are bound to it ({@code bound}), read once per TLS session.
 */
public record AuthenticatedPeer(SpiffeId spiffeId, X509Certificate certificate, BoundCertificate bound) {

    public AuthenticatedPeer(SpiffeId spiffeId, X509Certificate certificate) {
        this(spiffeId, certificate, BoundCertificate.of(certificate));
    }

    /** The certificate's serial number in hex, as revocations and issuance records name it. */
    public String serialHex() {
        return bound.serialHex();
    }
}
