package dev.lanyard.custody;

import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.util.List;

/**
 * A {@link Signer} over a JCA private key: a software key opened in memory, or a PKCS#11 key handle
 * whose private half never leaves the token. One initialised {@link Signature} per thread, kept:
 * they are not thread-safe, and making one per call (a provider lookup, a reflective constructor,
 * initSign) cost as much as an ECDSA signature. After {@code sign()} a Signature is ready to sign
 * again with the same key.
 */
final class JcaSigner implements Signer {

    private final String id;
    private final KeyAlgorithm algorithm;
    private final PrivateKey key;
    private final PublicKey publicKey;
    private final List<Provider> providers;
    private final ThreadLocal<Signature> signatures = new ThreadLocal<>();

    /** {@code providers} are tried in order; the first that accepts the key signs. */
    JcaSigner(String id, KeyAlgorithm algorithm, PrivateKey key, PublicKey publicKey, List<Provider> providers) {
        this.id = id;
        this.algorithm = algorithm;
        this.key = key;
        this.publicKey = publicKey;
        this.providers = List.copyOf(providers);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public KeyAlgorithm algorithm() {
        return algorithm;
    }

    @Override
    public PublicKey publicKey() {
        return publicKey;
    }

    @Override
    public byte[] sign(byte[] data) {
        Signature signature = signatures.get();
        if (signature == null) {
            signature = initialised();
            signatures.set(signature);
        }
        try {
            signature.update(data);
            return signature.sign();
        } catch (GeneralSecurityException | RuntimeException e) {
            signatures.remove(); // in no known state: the next call starts afresh
            if (e instanceof RuntimeException unchecked) {
                throw unchecked;
            }
            throw new CustodyException("key " + id + " could not sign: " + e.getMessage(), e);
        }
    }

    private Signature initialised() {
        GeneralSecurityException last = null;
        for (Provider provider : providers) {
            try {
                Signature signature = Signature.getInstance(algorithm.jcaSignature(), provider);
                if (algorithm.signatureParameters().isPresent()) {
                    signature.setParameter(algorithm.signatureParameters().get());
                }
                signature.initSign(key);
                return signature;
            } catch (GeneralSecurityException e) {
                last = e;
            }
        }
        throw new CustodyException("no provider can sign " + algorithm + " with key " + id
                + (last == null ? "" : ": " + last.getMessage()), last);
    }

    @Override
    public String toString() {
        return "Signer[" + id + ", " + algorithm + "]";
    }
}
