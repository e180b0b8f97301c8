package dev.lanyard.token;

import com.nimbusds.jose.JOSEException;
import dev.lanyard.custody.KeyAlgorithm;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.Arrays;

/** The JWS algorithms Lanyard signs with, and the public JWK of each. */
public enum SigningAlgorithm {
    ES256(JWSAlgorithm.ES256),
    ES384(JWSAlgorithm.ES384),
    EdDSA(JWSAlgorithm.EdDSA),
    RS256(JWSAlgorithm.RS256),
    PS256(JWSAlgorithm.PS256);

    private final JWSAlgorithm jws;

    SigningAlgorithm(JWSAlgorithm jws) {
        this.jws = jws;
    }

    public JWSAlgorithm jws() {
        return jws;
    }

    /** The custody algorithm of a key that signs with this JWS algorithm (same name). */
    public KeyAlgorithm keyAlgorithm() {
        return KeyAlgorithm.valueOf(name());
    }

    /** The public JWK, its {@code kid} the RFC 7638 thumbprint. */
    public JWK publicJwk(PublicKey key) {
        try {
            JWK withoutKid = switch (this) {
                case ES256 -> new ECKey.Builder(Curve.P_256, (ECPublicKey) key).build();
                case ES384 -> new ECKey.Builder(Curve.P_384, (ECPublicKey) key).build();
                case RS256, PS256 -> new RSAKey.Builder((RSAPublicKey) key).build();
                case EdDSA -> new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(rawEd25519(key))).build();
            };
            String kid = withoutKid.computeThumbprint().toString();
            return switch (this) {
                case ES256, ES384 -> new ECKey.Builder((ECKey) withoutKid).keyID(kid).algorithm(jws)
                        .keyUse(KeyUse.SIGNATURE).build();
                case RS256, PS256 -> new RSAKey.Builder((RSAKey) withoutKid).keyID(kid).algorithm(jws)
                        .keyUse(KeyUse.SIGNATURE).build();
                case EdDSA -> new OctetKeyPair.Builder((OctetKeyPair) withoutKid).keyID(kid).algorithm(jws)
                        .keyUse(KeyUse.SIGNATURE).build();
            };
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot compute a JWK thumbprint", e);
        }
    }

    /** The 32-byte Ed25519 public key: the tail of its SubjectPublicKeyInfo. */
    private static byte[] rawEd25519(PublicKey key) {
        byte[] spki = key.getEncoded();
        return Arrays.copyOfRange(spki, spki.length - 32, spki.length);
    }
}
