package dev.lanyard.ca;

import dev.lanyard.spiffe.SpiffeId;
import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.util.List;

/** A freshly signed X.509-SVID with what the store and the response need of it. */
public record IssuedSvid(SpiffeId spiffeId, X509Certificate certificate, List<X509Certificate> chain,
        BigInteger serial, String serialHex, String sha256Fingerprint, String issuerKeyId) {

    public IssuedSvid {
        chain = List.copyOf(chain);
    }
}
