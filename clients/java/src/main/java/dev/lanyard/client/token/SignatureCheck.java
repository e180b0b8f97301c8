package dev.lanyard.client.token;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.SignedJWT;
import dev.lanyard.client.token.TokenRejectedException.Reason;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.Provider;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;

/**
 * Checks that a published key fits the token's algorithm, then the signature. The key decides
 * what it may verify (its type, curve, size and any {@code alg}/{@code use} it declares), so a
 * token cannot talk the verifier into using a key another way.
 */
final class SignatureCheck {

    private static final int MIN_RSA_BITS = 2048;
    // DER prefix of an X.509 SubjectPublicKeyInfo for Ed25519; the 32 raw key bytes follow.
    private static final byte[] ED25519_SPKI_PREFIX = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

    private SignatureCheck() {
    }

    /** @param provider the JCA provider that checks RSA and ECDSA signatures (never the JDK's slow SunEC) */
    static void verify(SignedJWT jwt, SignatureAlgorithm algorithm, JWK key, Provider provider)
            throws TokenRejectedException {
        String kid = Printable.of(key.getKeyID());
        if (key.getAlgorithm() != null && !key.getAlgorithm().getName().equals(algorithm.joseName())) {
            throw new TokenRejectedException(Reason.ALGORITHM, "key " + kid + " is published for "
                    + Printable.of(key.getAlgorithm().getName()) + ", the token says " + algorithm.joseName());
        }
        if (key.getKeyUse() != null && !KeyUse.SIGNATURE.equals(key.getKeyUse())) {
            throw new TokenRejectedException(Reason.ALGORITHM, "key " + kid + " is not published for signatures");
        }
        boolean valid;
        try {
            valid = switch (algorithm) {
                case ES256 -> nimbus(jwt, new ECDSAVerifier(ecKey(key, Curve.P_256, algorithm)), provider);
                case ES384 -> nimbus(jwt, new ECDSAVerifier(ecKey(key, Curve.P_384, algorithm)), provider);
                case RS256, PS256 -> nimbus(jwt, new RSASSAVerifier(rsaKey(key, algorithm)), provider);
                case EdDSA -> ed25519(jwt, ed25519Key(key));
            };
        } catch (JOSEException | GeneralSecurityException e) {
            throw new TokenRejectedException(Reason.SIGNATURE, "the signature could not be checked with key " + kid);
        }
        if (!valid) {
            throw new TokenRejectedException(Reason.SIGNATURE, "the signature does not verify with key " + kid);
        }
    }

    private static boolean nimbus(SignedJWT jwt, JWSVerifier verifier, Provider provider)
            throws JOSEException {
        verifier.getJCAContext().setProvider(provider);
        return verifier.verify(jwt.getHeader(), jwt.getSigningInput(), jwt.getSignature());
    }

    private static ECKey ecKey(JWK key, Curve curve, SignatureAlgorithm algorithm) throws TokenRejectedException {
        if (!(key instanceof ECKey ec) || !curve.equals(ec.getCurve())) {
            throw misfit(key, algorithm, "an EC " + curve.getName() + " key");
        }
        return ec;
    }

    private static RSAKey rsaKey(JWK key, SignatureAlgorithm algorithm) throws TokenRejectedException {
        if (!(key instanceof RSAKey rsa)) {
            throw misfit(key, algorithm, "an RSA key");
        }
        if (rsa.size() < MIN_RSA_BITS) {
            throw new TokenRejectedException(Reason.ALGORITHM, "RSA key " + Printable.of(key.getKeyID()) + " has "
                    + rsa.size() + " bits; at least " + MIN_RSA_BITS + " are required");
        }
        return rsa;
    }

    private static PublicKey ed25519Key(JWK key) throws TokenRejectedException, GeneralSecurityException {
        if (!(key instanceof OctetKeyPair okp) || !Curve.Ed25519.equals(okp.getCurve())) {
            throw misfit(key, SignatureAlgorithm.EdDSA, "an OKP Ed25519 key");
        }
        byte[] raw = okp.getDecodedX();
        if (raw.length != 32) {
            throw new TokenRejectedException(Reason.ALGORITHM,
                    "Ed25519 key " + Printable.of(key.getKeyID()) + " is not 32 bytes long");
        }
        byte[] spki = new byte[ED25519_SPKI_PREFIX.length + raw.length];
        System.arraycopy(ED25519_SPKI_PREFIX, 0, spki, 0, ED25519_SPKI_PREFIX.length);
        System.arraycopy(raw, 0, spki, ED25519_SPKI_PREFIX.length, raw.length);
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    }

    // The JDK verifies Ed25519 itself, so EdDSA needs no extra library.
    private static boolean ed25519(SignedJWT jwt, PublicKey key) throws GeneralSecurityException {
        Signature signature = Signature.getInstance("Ed25519");
        signature.initVerify(key);
        signature.update(jwt.getSigningInput());
        return signature.verify(jwt.getSignature().decode());
    }

    private static TokenRejectedException misfit(JWK key, SignatureAlgorithm algorithm, String needed) {
        return new TokenRejectedException(Reason.ALGORITHM, "the token says " + algorithm.joseName() + ", which needs "
                + needed + ", but key " + Printable.of(key.getKeyID()) + " is " + describe(key));
    }

    private static String describe(JWK key) {
        if (key instanceof ECKey ec) {
            return "an EC " + ec.getCurve().getName() + " key";
        }
        if (key instanceof OctetKeyPair okp) {
            return "an OKP " + okp.getCurve().getName() + " key";
        }
        return "an " + key.getKeyType().getValue() + " key";
    }
}
