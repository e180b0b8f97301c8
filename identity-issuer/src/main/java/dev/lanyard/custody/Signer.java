package dev.lanyard.custody;

import java.security.PublicKey;

/**
 * A key held by a custody, able to sign and to say its public half; never its private half.
 * Thread-safe: callers share one signer per key.
 */
public interface Signer {

    /** The custody id the key was generated or imported under. */
    String id();

    KeyAlgorithm algorithm();

    PublicKey publicKey();

    /**
     * Signs {@code data} with {@link KeyAlgorithm#jcaSignature()}; the signature is in the JCA
     * encoding (DER for ECDSA, as X.509 wants it; JWS callers transcode).
     *
     * @throws CustodyException if the custody cannot sign (an HSM gone away, a key destroyed)
     */
    byte[] sign(byte[] data);
}
