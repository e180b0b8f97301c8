package dev.lanyard.ca;

import dev.lanyard.crypto.Pem;
import dev.lanyard.spiffe.SpiffeId;
import java.math.BigInteger;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/**
 * A freshly signed X.509-SVID with what the store and the response need of it. It is kept as the
 * DER that was signed: a renewal answers with those bytes and records the times, so the JCA object
 * is only made for the few callers that need one ({@link #certificate()}). Parsing every issued
 * certificate with the JDK's factory cost a sixth of a renewal, and its cache of parsed certificates
 * kept each one alive long enough to reach the old generation.
 */
public final class IssuedSvid {

    private final SpiffeId spiffeId;
    private final byte[] der;
    private final Instant notBefore;
    private final Instant notAfter;
    private final List<X509Certificate> chain;
    private final BigInteger serial;
    private final String serialHex;
    private final String sha256Fingerprint;
    private final String issuerKeyId;
    private volatile X509Certificate certificate;

    public IssuedSvid(SpiffeId spiffeId, byte[] der, Instant notBefore, Instant notAfter,
            List<X509Certificate> chain, BigInteger serial, String issuerKeyId) {
        this.spiffeId = spiffeId;
        this.der = der.clone();
        this.notBefore = notBefore;
        this.notAfter = notAfter;
        this.chain = List.copyOf(chain);
        this.serial = serial;
        this.serialHex = serial.toString(16);
        this.sha256Fingerprint = Pem.sha256Fingerprint(der);
        this.issuerKeyId = issuerKeyId;
    }

    public SpiffeId spiffeId() {
        return spiffeId;
    }

    /** The certificate's DER (a copy). */
    public byte[] der() {
        return der.clone();
    }

    public Instant notBefore() {
        return notBefore;
    }

    public Instant notAfter() {
        return notAfter;
    }

    /** The certificate as a JCA object, parsed on first use. */
    public X509Certificate certificate() {
        X509Certificate parsed = certificate;
        if (parsed == null) {
            parsed = X509.certificate(der);
            certificate = parsed;
        }
        return parsed;
    }

    public List<X509Certificate> chain() {
        return chain;
    }

    public BigInteger serial() {
        return serial;
    }

    public String serialHex() {
        return serialHex;
    }

    /** SHA-256 of the DER, lower-case hex. */
    public String sha256Fingerprint() {
        return sha256Fingerprint;
    }

    public String issuerKeyId() {
        return issuerKeyId;
    }
}
