package dev.lanyard.crypto;

import dev.lanyard.store.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The key-encryption key (AES-256) that wraps every private key's data key. It comes from a file
 * of 32 random bytes (owner-only) or from a passphrase through PBKDF2.
 */
public final class KeyEncryptionKey {

    private static final int KEY_BYTES = 32;
    private static final int PBKDF2_ITERATIONS = 600_000;
    private static final int MIN_PASSPHRASE = 12;
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final SecretKeySpec key;
    private final String id;

    private KeyEncryptionKey(byte[] raw) {
        if (raw.length != KEY_BYTES) {
            throw new IllegalArgumentException("a key-encryption key is " + KEY_BYTES + " bytes, not " + raw.length);
        }
        this.key = new SecretKeySpec(raw, "AES");
        this.id = idOf(key);
    }

    /** A KEK that lives only in memory (benchmarks and tools that seal nothing durable). */
    public static KeyEncryptionKey ephemeral(SecureRandom random) {
        byte[] raw = new byte[KEY_BYTES];
        random.nextBytes(raw);
        return new KeyEncryptionKey(raw);
    }

    /**
     * A short public name for this KEK (16 hex digits of an HMAC under it): sealed keys carry it so
     * the right KEK is picked during a rotation, and errors and audit records can name it.
     */
    public String id() {
        return id;
    }

    private static String idOf(SecretKeySpec key) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key.getEncoded(), "HmacSHA256"));
            byte[] tag = mac.doFinal("lanyard-kek-id-v1".getBytes(StandardCharsets.US_ASCII));
            return java.util.HexFormat.of().formatHex(tag, 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /** Reads a KEK file; refuses one that others than its owner may read. */
    public static KeyEncryptionKey fromFile(Path file) throws IOException {
        OwnerOnlyFile.require(file, "key-encryption key file");
        byte[] raw;
        try {
            raw = Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).trim());
        } catch (IllegalArgumentException e) {
            throw new IOException("key-encryption key file " + file + " is not base64");
        }
        if (raw.length != KEY_BYTES) {
            throw new IOException("key-encryption key file " + file + " must hold " + KEY_BYTES + " bytes");
        }
        return new KeyEncryptionKey(raw);
    }

    /**
     * Creates a new KEK file, owner-only from the first byte; never overwrites one. It is on disk
     * (file and directory entry) before this returns: keys sealed under it are stored next.
     */
    public static KeyEncryptionKey generateFile(Path file, SecureRandom random) throws IOException {
        byte[] raw = new byte[KEY_BYTES];
        random.nextBytes(raw);
        try {
            DurableFiles.createNew(file, (Base64.getEncoder().encodeToString(raw) + "\n")
                    .getBytes(StandardCharsets.US_ASCII), OWNER_ONLY);
        } catch (FileAlreadyExistsException e) {
            throw new IOException("key-encryption key file " + file + " exists already; refusing to overwrite it");
        }
        return new KeyEncryptionKey(raw);
    }

    /** Derives the KEK from a passphrase (PBKDF2-HMAC-SHA256, 600,000 iterations) and a stored salt. */
    public static KeyEncryptionKey fromPassphrase(char[] passphrase, byte[] salt) {
        if (passphrase.length < MIN_PASSPHRASE) {
            throw new IllegalArgumentException("the key-encryption passphrase must be at least "
                    + MIN_PASSPHRASE + " characters");
        }
        if (salt.length < 16) {
            throw new IllegalArgumentException("the key-encryption salt must be at least 16 bytes");
        }
        try {
            PBEKeySpec spec = new PBEKeySpec(passphrase, salt, PBKDF2_ITERATIONS, KEY_BYTES * 8);
            try {
                return new KeyEncryptionKey(SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                        .generateSecret(spec).getEncoded());
            } finally {
                spec.clearPassword();
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is unavailable", e);
        }
    }

    public static byte[] newSalt(SecureRandom random) {
        byte[] salt = new byte[32];
        random.nextBytes(salt);
        return salt;
    }

    SecretKeySpec secretKey() {
        return key;
    }

    @Override
    public String toString() {
        return "KeyEncryptionKey[AES-256, id " + id + ", value hidden]";
    }
}
