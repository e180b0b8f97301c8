package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.SignatureException;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;

/**
 * A Bouncy Castle {@link ContentSigner} over a plain JCA {@link Signature} of the chosen provider,
 * so certificates are signed by ACCP (AWS-LC) when it is active. One per signature: JCA
 * signatures are not thread-safe.
 */
final class SignatureContentSigner implements ContentSigner {

    private final AlgorithmIdentifier algorithm;
    private final Signature signature;
    private final ByteArrayOutputStream stream;

    SignatureContentSigner(CryptoProviders crypto, String jcaAlgorithm, PrivateKey key) {
        try {
            this.algorithm = new DefaultSignatureAlgorithmIdentifierFinder().find(jcaAlgorithm);
            this.signature = crypto.signature(jcaAlgorithm);
            signature.initSign(key);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign with " + jcaAlgorithm, e);
        }
        // Bouncy Castle writes the TBS structure in many small pieces: collect it, sign it in one update.
        this.stream = new ByteArrayOutputStream(1024);
    }

    @Override
    public AlgorithmIdentifier getAlgorithmIdentifier() {
        return algorithm;
    }

    @Override
    public OutputStream getOutputStream() {
        return stream;
    }

    @Override
    public byte[] getSignature() {
        try {
            signature.update(stream.toByteArray());
            return signature.sign();
        } catch (SignatureException e) {
            throw new IllegalStateException("signing failed", e);
        }
    }

    /** The signature algorithm a CA key of this type signs with. */
    static String algorithmFor(PrivateKey key) {
        return switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> throw new IllegalArgumentException("unsupported CA key algorithm " + key.getAlgorithm());
        };
    }
}
