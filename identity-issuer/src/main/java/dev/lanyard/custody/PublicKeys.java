package dev.lanyard.custody;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.interfaces.ECKey;
import java.security.spec.X509EncodedKeySpec;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.RSAKeyParameters;
import org.bouncycastle.crypto.params.RSAPrivateCrtKeyParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.SubjectPublicKeyInfoFactory;

/** Public halves and algorithms worked out from a private key, for keys stored before custody kept them. */
final class PublicKeys {

    private PublicKeys() {
    }

    static PublicKey of(PrivateKey key, Provider provider) {
        try {
            AsymmetricKeyParameter parameters = PrivateKeyFactory.createKey(key.getEncoded());
            AsymmetricKeyParameter publicHalf;
            if (parameters instanceof ECPrivateKeyParameters ec) {
                publicHalf = new ECPublicKeyParameters(ec.getParameters().getG().multiply(ec.getD()).normalize(),
                        ec.getParameters());
            } else if (parameters instanceof RSAPrivateCrtKeyParameters rsa) {
                publicHalf = new RSAKeyParameters(false, rsa.getModulus(), rsa.getPublicExponent());
            } else if (parameters instanceof Ed25519PrivateKeyParameters ed) {
                publicHalf = ed.generatePublicKey();
            } else {
                throw new CustodyException("cannot derive the public half of a " + key.getAlgorithm() + " key");
            }
            byte[] spki = SubjectPublicKeyInfoFactory.createSubjectPublicKeyInfo(publicHalf).getEncoded();
            return decode(key.getAlgorithm().equals("EdDSA") ? "Ed25519" : key.getAlgorithm(), spki, provider);
        } catch (IOException e) {
            throw new CustodyException("cannot read a private key to derive its public half", e);
        }
    }

    static PublicKey decode(String keyType, byte[] spki, Provider provider) {
        try {
            return KeyFactory.getInstance(keyType, provider).generatePublic(new X509EncodedKeySpec(spki));
        } catch (GeneralSecurityException e) {
            throw new CustodyException("cannot read a stored " + keyType + " public key", e);
        }
    }

    /** The algorithm a key signs with when nobody stored one: SHA-256 ECDSA for P-256, and so on. */
    static KeyAlgorithm algorithmOf(PublicKey key) {
        return switch (key.getAlgorithm()) {
            case "EC" -> ((ECKey) key).getParams().getCurve().getField().getFieldSize() > 256
                    ? KeyAlgorithm.ES384 : KeyAlgorithm.ES256;
            case "RSA" -> KeyAlgorithm.RS256;
            case "Ed25519", "EdDSA" -> KeyAlgorithm.EdDSA;
            default -> throw new CustodyException("unsupported key algorithm " + key.getAlgorithm());
        };
    }
}
