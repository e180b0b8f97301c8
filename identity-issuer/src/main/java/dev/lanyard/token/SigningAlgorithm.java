package dev.lanyard.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.util.Base64URL;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;

/** The JWS algorithms Lanyard signs with, and how each makes keys, public JWKs and signers. */
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

    /** A new key pair from {@code provider}, falling back to {@code fallback} where it lacks the algorithm. */
    KeyPair generate(Provider provider, Provider fallback) {
        try {
            KeyPairGenerator generator = generator(provider, fallback);
            switch (this) {
                case ES256 -> generator.initialize(new ECGenParameterSpec("secp256r1"));
                case ES384 -> generator.initialize(new ECGenParameterSpec("secp384r1"));
                case RS256, PS256 -> generator.initialize(3072);
                case EdDSA -> { }
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a " + this + " key", e);
        }
    }

    private KeyPairGenerator generator(Provider provider, Provider fallback) throws GeneralSecurityException {
        String name = switch (this) {
            case ES256, ES384 -> "EC";
            case RS256, PS256 -> "RSA";
            case EdDSA -> "Ed25519";
        };
        try {
            return KeyPairGenerator.getInstance(name, provider);
        } catch (GeneralSecurityException e) {
            return KeyPairGenerator.getInstance(name, fallback);
        }
    }

    /** The public JWK, its {@code kid} the RFC 7638 thumbprint. */
    JWK publicJwk(PublicKey key) {
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

    /** A signer whose JCA work runs in {@code provider} (or {@code fallback} for what it lacks). */
    JWSSigner signer(PrivateKey key, Provider provider, Provider fallback) {
        try {
            JWSSigner signer = switch (this) {
                case ES256, ES384 -> new ECDSASigner((ECPrivateKey) key);
                case RS256, PS256 -> new RSASSASigner(key);
                case EdDSA -> new JcaEd25519Signer(key, provider, fallback);
            };
            signer.getJCAContext().setProvider(this == EdDSA || this == PS256 ? fallback : provider);
            return signer;
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign with " + this, e);
        }
    }

    /** The 32-byte Ed25519 public key: the tail of its SubjectPublicKeyInfo. */
    private static byte[] rawEd25519(PublicKey key) {
        byte[] spki = key.getEncoded();
        return Arrays.copyOfRange(spki, spki.length - 32, spki.length);
    }
}
