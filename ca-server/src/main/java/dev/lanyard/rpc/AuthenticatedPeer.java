package dev.lanyard.rpc;

import dev.lanyard.spiffe.SpiffeId;
import java.security.cert.X509Certificate;

/** A caller whose client certificate chains to this CA and was valid when the call arrived. */
public record AuthenticatedPeer(SpiffeId spiffeId, X509Certificate certificate) {
}
