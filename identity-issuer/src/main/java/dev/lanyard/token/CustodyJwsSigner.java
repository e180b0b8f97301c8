package dev.lanyard.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.impl.ECDSA;
import com.nimbusds.jose.jca.JCAContext;
import com.nimbusds.jose.util.Base64URL;
import dev.lanyard.custody.CustodyException;
import dev.lanyard.custody.Signer;
import java.util.Set;

/**
 * A Nimbus {@link JWSSigner} over a custody {@link Signer}: the key may be in software or in an HSM,
 * the token code never sees it. ECDSA signatures come back DER-encoded and are transcoded to the
 * fixed-length R||S form JWS wants (RFC 7518 section 3.4).
 */
final class CustodyJwsSigner implements JWSSigner {

    private final Signer signer;
    private final JWSAlgorithm algorithm;
    private final JCAContext context = new JCAContext();

    CustodyJwsSigner(Signer signer, SigningAlgorithm algorithm) {
        if (signer.algorithm() != algorithm.keyAlgorithm()) {
            throw new IllegalArgumentException("custody key " + signer.id() + " signs " + signer.algorithm()
                    + ", not " + algorithm);
        }
        this.signer = signer;
        this.algorithm = algorithm.jws();
    }

    /** The custody id of the key it signs with. */
    String custodyKeyId() {
        return signer.id();
    }

    @Override
    public Base64URL sign(JWSHeader header, byte[] signingInput) throws JOSEException {
        if (!algorithm.equals(header.getAlgorithm())) {
            throw new JOSEException("this signer signs " + algorithm + ", not " + header.getAlgorithm());
        }
        try {
            byte[] signature = signer.sign(signingInput);
            if (JWSAlgorithm.Family.EC.contains(algorithm)) {
                signature = ECDSA.transcodeSignatureToConcat(signature, ECDSA.getSignatureByteArrayLength(algorithm));
            }
            return Base64URL.encode(signature);
        } catch (CustodyException e) {
            throw new JOSEException(e.getMessage(), e);
        }
    }

    @Override
    public Set<JWSAlgorithm> supportedJWSAlgorithms() {
        return Set.of(algorithm);
    }

    @Override
    public JCAContext getJCAContext() {
        return context;
    }
}
