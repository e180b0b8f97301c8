package dev.lanyard.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.jca.JCAContext;
import com.nimbusds.jose.util.Base64URL;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Signature;
import java.util.Set;

/**
 * EdDSA (Ed25519) through plain JCA. Nimbus's own Ed25519 signer needs Google Tink; the JDK and
 * Bouncy Castle already do Ed25519, so this small signer uses them.
 */
final class JcaEd25519Signer implements JWSSigner {

    private final PrivateKey key;
    private final Provider provider;
    private final Provider fallback;
    private final JCAContext context = new JCAContext();

    JcaEd25519Signer(PrivateKey key, Provider provider, Provider fallback) {
        this.key = key;
        this.provider = provider;
        this.fallback = fallback;
    }

    @Override
    public Base64URL sign(JWSHeader header, byte[] signingInput) throws JOSEException {
        if (!JWSAlgorithm.EdDSA.equals(header.getAlgorithm())) {
            throw new JOSEException("this signer only signs EdDSA");
        }
        try {
            Signature signature = instance();
            signature.initSign(key);
            signature.update(signingInput);
            return Base64URL.encode(signature.sign());
        } catch (GeneralSecurityException e) {
            throw new JOSEException("Ed25519 signing failed", e);
        }
    }

    private Signature instance() throws GeneralSecurityException {
        try {
            Signature s = Signature.getInstance("Ed25519", provider);
            s.initSign(key);
            return s;
        } catch (GeneralSecurityException e) {
            return Signature.getInstance("Ed25519", fallback);
        }
    }

    @Override
    public Set<JWSAlgorithm> supportedJWSAlgorithms() {
        return Set.of(JWSAlgorithm.EdDSA);
    }

    @Override
    public JCAContext getJCAContext() {
        return context;
    }
}
