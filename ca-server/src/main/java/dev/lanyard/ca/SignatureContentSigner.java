package dev.lanyard.ca;

import dev.lanyard.custody.KeyAlgorithm;
import dev.lanyard.custody.Signer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.DefaultSignatureAlgorithmIdentifierFinder;

/**
 * A Bouncy Castle {@link ContentSigner} over a custody {@link Signer}: certificates and CRLs are
 * signed wherever the key lives (software, HSM) without this code seeing it. One per signature.
 */
final class SignatureContentSigner implements ContentSigner {

    private final AlgorithmIdentifier algorithm;
    private final Signer signer;
    // Bouncy Castle writes the TBS structure in many small pieces: collect it, sign it in one call.
    private final ByteArrayOutputStream stream = new ByteArrayOutputStream(1024);

    SignatureContentSigner(Signer signer) {
        this.signer = signer;
        this.algorithm = new DefaultSignatureAlgorithmIdentifierFinder().find(x509Name(signer.algorithm()));
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
        return signer.sign(stream.toByteArray());
    }

    /** Bouncy Castle's name for the scheme, which carries the PSS parameters in the algorithm identifier. */
    private static String x509Name(KeyAlgorithm algorithm) {
        return algorithm == KeyAlgorithm.PS256 ? "SHA256withRSAandMGF1" : algorithm.jcaSignature();
    }
}
