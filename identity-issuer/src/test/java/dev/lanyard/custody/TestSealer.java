package dev.lanyard.custody;

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
import org.bouncycastle.jce.provider.BouncyCastleProvider;

/** AES-GCM with a per-test key: real encryption at rest for custody tests (the server uses envelope encryption). */
public final class TestSealer implements KeySealer {

    private final SecretKeySpec key;
    private final SecureRandom random = new SecureRandom();

    public TestSealer() {
        byte[] raw = new byte[32];
        random.nextBytes(raw);
        key = new SecretKeySpec(raw, "AES");
    }

    @Override
    public String seal(PrivateKey privateKey, String keyId) {
        try {
            byte[] nonce = new byte[12];
            random.nextBytes(nonce);
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, nonce));
            cipher.updateAAD(keyId.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = cipher.doFinal(privateKey.getEncoded());
            return privateKey.getAlgorithm() + ":" + Base64.getEncoder().encodeToString(nonce) + ":"
                    + Base64.getEncoder().encodeToString(sealed);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public PrivateKey open(String sealed, String keyId) {
        try {
            String[] parts = sealed.split(":");
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, Base64.getDecoder().decode(parts[1])));
            cipher.updateAAD(keyId.getBytes(StandardCharsets.UTF_8));
            byte[] der = cipher.doFinal(Base64.getDecoder().decode(parts[2]));
            String algorithm = Arrays.asList("EdDSA", "Ed25519").contains(parts[0]) ? "Ed25519" : parts[0];
            return KeyFactory.getInstance(algorithm, new BouncyCastleProvider()).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One key for the whole test: nothing to re-wrap. */
    @Override
    public String rewrap(String sealed, String keyId) {
        return sealed;
    }
}
