package dev.lanyard.crypto;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import dev.lanyard.token.KeySealer;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;

/**
 * Envelope encryption of private keys at rest: a fresh AES-256 data key per private key encrypts
 * its PKCS#8 DER with AES-GCM (the key id is the associated data, so a sealed key cannot be
 * swapped for another); the data key is itself AES-GCM-wrapped by the key-encryption key.
 *
 * <p>Format (base64): version(1) | wrapNonce(12) | wrappedDataKey(32+16) | nonce(12) | ciphertext+tag.
 */
public final class PrivateKeySealer implements KeySealer {

    private static final byte VERSION = 1;
    private static final int NONCE = 12;
    private static final int TAG_BITS = 128;
    private static final int DATA_KEY = 32;
    private static final int WRAPPED_DATA_KEY = DATA_KEY + TAG_BITS / 8;

    private final KeyEncryptionKey kek;
    private final SecureRandom random;
    private final CryptoProviders crypto;

    public PrivateKeySealer(KeyEncryptionKey kek, SecureRandom random, CryptoProviders crypto) {
        this.kek = kek;
        this.random = random;
        this.crypto = crypto;
    }

    @Override
    public String seal(PrivateKey key, String keyId) {
        byte[] dataKey = new byte[DATA_KEY];
        byte[] plain = key.getEncoded();
        try {
            random.nextBytes(dataKey);
            byte[] aad = aad(keyId);
            byte[] wrapNonce = nonce();
            byte[] wrapped = gcm(Cipher.ENCRYPT_MODE, kek.secretKey(), wrapNonce, aad, dataKey);
            byte[] nonce = nonce();
            byte[] ciphertext = gcm(Cipher.ENCRYPT_MODE, new SecretKeySpec(dataKey, "AES"), nonce, aad, plain);
            ByteBuffer out = ByteBuffer.allocate(1 + NONCE + WRAPPED_DATA_KEY + NONCE + ciphertext.length);
            out.put(VERSION).put(wrapNonce).put(wrapped).put(nonce).put(ciphertext);
            return Base64.getEncoder().encodeToString(out.array());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        } finally {
            Arrays.fill(dataKey, (byte) 0);
            Arrays.fill(plain, (byte) 0);
        }
    }

    @Override
    public PrivateKey open(String sealed, String keyId) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(sealed);
        } catch (IllegalArgumentException e) {
            throw new KeySealException("sealed key " + keyId + " is not base64");
        }
        if (raw.length < 1 + NONCE + WRAPPED_DATA_KEY + NONCE + TAG_BITS / 8 || raw[0] != VERSION) {
            throw new KeySealException("sealed key " + keyId + " has an unknown format");
        }
        ByteBuffer in = ByteBuffer.wrap(raw, 1, raw.length - 1);
        byte[] wrapNonce = take(in, NONCE);
        byte[] wrapped = take(in, WRAPPED_DATA_KEY);
        byte[] nonce = take(in, NONCE);
        byte[] ciphertext = take(in, in.remaining());
        byte[] aad = aad(keyId);
        byte[] dataKey = null;
        byte[] plain = null;
        try {
            dataKey = gcm(Cipher.DECRYPT_MODE, kek.secretKey(), wrapNonce, aad, wrapped);
            plain = gcm(Cipher.DECRYPT_MODE, new SecretKeySpec(dataKey, "AES"), nonce, aad, ciphertext);
        } catch (GeneralSecurityException e) {
            throw new KeySealException("sealed key " + keyId
                    + " cannot be opened: wrong key-encryption key, tampered data, or another key's record");
        } finally {
            if (dataKey != null) {
                Arrays.fill(dataKey, (byte) 0);
            }
        }
        try {
            String algorithm = algorithmOf(plain);
            KeyFactory factory = crypto.keyFactory(algorithm);
            return factory.generatePrivate(new PKCS8EncodedKeySpec(plain));
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new KeySealException("sealed key " + keyId + " holds no usable private key");
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    private static String algorithmOf(byte[] pkcs8) {
        String oid = PrivateKeyInfo.getInstance(pkcs8).getPrivateKeyAlgorithm().getAlgorithm().getId();
        return switch (oid) {
            case "1.2.840.10045.2.1" -> "EC";
            case "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10" -> "RSA";
            case "1.3.101.112" -> "Ed25519";
            default -> throw new IllegalArgumentException("unsupported key algorithm " + oid);
        };
    }

    private byte[] nonce() {
        byte[] nonce = new byte[NONCE];
        random.nextBytes(nonce);
        return nonce;
    }

    private static byte[] gcm(int mode, SecretKeySpec key, byte[] nonce, byte[] aad, byte[] input)
            throws GeneralSecurityException {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(mode, key, new GCMParameterSpec(TAG_BITS, nonce));
        cipher.updateAAD(aad);
        return cipher.doFinal(input);
    }

    private static byte[] aad(String keyId) {
        return ("lanyard-sealed-key-v1:" + keyId).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] take(ByteBuffer in, int n) {
        byte[] out = new byte[n];
        in.get(out);
        return out;
    }
}
