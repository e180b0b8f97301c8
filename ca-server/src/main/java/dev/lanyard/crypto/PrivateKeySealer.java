package dev.lanyard.crypto;

import dev.lanyard.custody.KeySealer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;

/**
 * Envelope encryption of private keys at rest: a fresh AES-256 data key per private key encrypts
 * its PKCS#8 DER with AES-GCM (the key id is the associated data, so a sealed key cannot be
 * swapped for another); the data key is itself AES-GCM-wrapped by the key-encryption key.
 * Rotating the KEK re-wraps only the data key ({@link #rewrap}); the private key stays encrypted.
 *
 * <p>Format (base64), version 2: 2 | kekId(8) | wrapNonce(12) | wrappedDataKey(32+16) | nonce(12) | ciphertext+tag.
 * Version 1 (before KEK rotation) lacks the KEK id; it is opened by trying each KEK of the ring.
 */
public final class PrivateKeySealer implements KeySealer {

    private static final byte V1 = 1;
    private static final byte V2 = 2;
    private static final int KEK_ID = 8;
    private static final int NONCE = 12;
    private static final int TAG_BITS = 128;
    private static final int DATA_KEY = 32;
    private static final int WRAPPED_DATA_KEY = DATA_KEY + TAG_BITS / 8;

    /** The parts of a sealed key. */
    private record Parts(byte version, String kekId, byte[] wrapNonce, byte[] wrapped, byte[] nonce, byte[] ciphertext) {
    }

    private final KekRing keks;
    private final SecureRandom random;
    private final CryptoProviders crypto;

    public PrivateKeySealer(KeyEncryptionKey kek, SecureRandom random, CryptoProviders crypto) {
        this(new KekRing(kek), random, crypto);
    }

    public PrivateKeySealer(KekRing keks, SecureRandom random, CryptoProviders crypto) {
        this.keks = keks;
        this.random = random;
        this.crypto = crypto;
    }

    @Override
    public String seal(PrivateKey key, String keyId) {
        keks.refresh();
        byte[] dataKey = new byte[DATA_KEY];
        byte[] plain = key.getEncoded();
        try {
            random.nextBytes(dataKey);
            byte[] aad = aad(keyId);
            byte[] nonce = nonce();
            byte[] ciphertext = gcm(Cipher.ENCRYPT_MODE, new SecretKeySpec(dataKey, "AES"), nonce, aad, plain);
            return wrap(dataKey, aad, nonce, ciphertext);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        } finally {
            Arrays.fill(dataKey, (byte) 0);
            Arrays.fill(plain, (byte) 0);
        }
    }

    @Override
    public PrivateKey open(String sealed, String keyId) {
        Parts parts = parse(sealed, keyId);
        byte[] aad = aad(keyId);
        byte[] dataKey = unwrap(parts, keyId, aad);
        byte[] plain = null;
        try {
            plain = gcm(Cipher.DECRYPT_MODE, new SecretKeySpec(dataKey, "AES"), parts.nonce(), aad, parts.ciphertext());
        } catch (GeneralSecurityException e) {
            throw new KeySealException("sealed key " + keyId + " cannot be opened: tampered data or another key's record");
        } finally {
            Arrays.fill(dataKey, (byte) 0);
        }
        try {
            KeyFactory factory = crypto.keyFactory(algorithmOf(plain));
            return factory.generatePrivate(new PKCS8EncodedKeySpec(plain));
        } catch (GeneralSecurityException | RuntimeException e) {
            throw new KeySealException("sealed key " + keyId + " holds no usable private key");
        } finally {
            Arrays.fill(plain, (byte) 0);
        }
    }

    @Override
    public String rewrap(String sealed, String keyId) {
        Parts parts = parse(sealed, keyId);
        if (parts.version() == V2 && parts.kekId().equals(keks.current().id())) {
            return sealed;
        }
        byte[] aad = aad(keyId);
        byte[] dataKey = unwrap(parts, keyId, aad);
        try {
            return wrap(dataKey, aad, parts.nonce(), parts.ciphertext());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        } finally {
            Arrays.fill(dataKey, (byte) 0);
        }
    }

    /**
     * The id of the KEK that wrapped this sealed key, or empty for the version-1 format (unknown).
     *
     * @throws KeySealException if it is not a sealed key
     */
    public static java.util.Optional<String> kekIdOf(String sealed, String keyId) {
        Parts parts = parse(sealed, keyId);
        return parts.version() == V2 ? java.util.Optional.of(parts.kekId()) : java.util.Optional.empty();
    }

    @Override
    public java.util.Optional<String> wrappedBy(String sealed, String keyId) {
        try {
            return kekIdOf(sealed, keyId);
        } catch (KeySealException e) {
            return java.util.Optional.empty();
        }
    }

    private String wrap(byte[] dataKey, byte[] aad, byte[] nonce, byte[] ciphertext) throws GeneralSecurityException {
        KeyEncryptionKey kek = keks.current();
        byte[] wrapNonce = nonce();
        byte[] wrapped = gcm(Cipher.ENCRYPT_MODE, kek.secretKey(), wrapNonce, aad, dataKey);
        ByteBuffer out = ByteBuffer.allocate(1 + KEK_ID + NONCE + WRAPPED_DATA_KEY + NONCE + ciphertext.length);
        out.put(V2).put(HexFormat.of().parseHex(kek.id())).put(wrapNonce).put(wrapped).put(nonce).put(ciphertext);
        return Base64.getEncoder().encodeToString(out.array());
    }

    /** The data key, unwrapped by the KEK the record names (version 2) or by whichever KEK opens it (version 1). */
    private byte[] unwrap(Parts parts, String keyId, byte[] aad) {
        if (parts.version() == V2 && keks.find(parts.kekId()).isEmpty()) {
            keks.refresh();
        }
        List<KeyEncryptionKey> candidates = parts.version() == V2
                ? keks.find(parts.kekId()).map(List::of).orElseThrow(() -> new KeySealException("sealed key " + keyId
                        + " is wrapped by key-encryption key " + parts.kekId() + ", which this server does not hold;"
                        + " give it the KEK file that `lanyard keys rotate-kek` last used (see `lanyard keys list`)"))
                : keks.all();
        for (KeyEncryptionKey kek : candidates) {
            try {
                return gcm(Cipher.DECRYPT_MODE, kek.secretKey(), parts.wrapNonce(), aad, parts.wrapped());
            } catch (GeneralSecurityException e) {
                // the next KEK, if any
            }
        }
        throw new KeySealException("sealed key " + keyId
                + " cannot be opened: wrong key-encryption key, tampered data, or another key's record");
    }

    private static Parts parse(String sealed, String keyId) {
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(sealed);
        } catch (IllegalArgumentException e) {
            throw new KeySealException("sealed key " + keyId + " is not base64");
        }
        int header = raw.length > 0 && raw[0] == V2 ? 1 + KEK_ID : 1;
        if (raw.length < header + NONCE + WRAPPED_DATA_KEY + NONCE + TAG_BITS / 8 || (raw[0] != V1 && raw[0] != V2)) {
            throw new KeySealException("sealed key " + keyId + " has an unknown format");
        }
        ByteBuffer in = ByteBuffer.wrap(raw, 1, raw.length - 1);
        String kekId = raw[0] == V2 ? HexFormat.of().formatHex(take(in, KEK_ID)) : "";
        return new Parts(raw[0], kekId, take(in, NONCE), take(in, WRAPPED_DATA_KEY), take(in, NONCE),
                take(in, in.remaining()));
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
