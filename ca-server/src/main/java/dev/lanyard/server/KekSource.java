package dev.lanyard.server;

import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import dev.lanyard.custody.SealedKeyRepository;
import dev.lanyard.store.DurableFiles;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the key-encryption key comes from at start: a passphrase in the environment, or a file. A new
 * KEK file or passphrase salt is made only for a store that holds no sealed key yet: for one that does
 * (a restored store, a moved data directory) a new KEK could open none of them, so the server refuses
 * to start, saying which KEK it needs, rather than make one and fail later.
 */
final class KekSource {

    private static final Logger LOG = LoggerFactory.getLogger(KekSource.class);
    /** A passphrase KEK's salt, in the data directory (backups carry it). */
    static final String PASSPHRASE_SALT_FILE = "kek.salt";

    private KekSource() {
    }

    /** @param sealed the keys the store holds sealed already */
    static KeyEncryptionKey load(ServerConfig config, SecureRandom random, List<SealedKeyRepository.SealedKey> sealed)
            throws IOException {
        if (config.kekPassphraseEnv().isPresent()) {
            String name = config.kekPassphraseEnv().get();
            String passphrase = System.getenv(name);
            if (passphrase == null) {
                throw new IllegalStateException("environment variable " + name + " (kek.passphrase-env) is not set");
            }
            Path saltFile = config.dataDir().resolve(PASSPHRASE_SALT_FILE);
            if (!Files.exists(saltFile)) {
                if (!sealed.isEmpty()) {
                    throw new IllegalStateException(saltFile + " does not exist, and the store holds " + keys(sealed)
                            + ": a new salt would make another KEK from the passphrase, which could open none of them, so"
                            + " the server does not start. Copy kek.salt from the data directory of the server this store"
                            + " comes from (`lanyard restore --data-dir` writes it) to " + saltFile + ", and start again");
                }
                // Durable before any key is sealed under the KEK it derives: a lost salt loses every key.
                try {
                    DurableFiles.createNew(saltFile, KeyEncryptionKey.newSalt(random),
                            PosixFilePermissions.fromString("rw-------"));
                } catch (FileAlreadyExistsException e) {
                    // another process made it meanwhile: use that one
                }
            }
            return KeyEncryptionKey.fromPassphrase(passphrase.toCharArray(), Files.readAllBytes(saltFile));
        }
        if (Files.exists(config.kekFile())) {
            return KeyEncryptionKey.fromFile(config.kekFile());
        }
        if (!sealed.isEmpty()) {
            throw new IllegalStateException("kek.file " + config.kekFile() + " does not exist, and the store holds "
                    + keys(sealed) + ": a new KEK could open none of them, so the server does not start. Copy the KEK"
                    + " file of the server this store comes from (`lanyard restore` names the KEK it needs) to "
                    + config.kekFile() + " (owner-only: chmod 600), or set kek.file to it, and start again");
        }
        LOG.warn("generated a new key-encryption key at {}: without it the CA keys cannot be decrypted, keep it safe",
                config.kekFile());
        return KeyEncryptionKey.generateFile(config.kekFile(), random);
    }

    /** "3 private keys sealed under key-encryption key 0a1b…", the KEKs named where the sealed format says. */
    private static String keys(List<SealedKeyRepository.SealedKey> sealed) {
        TreeSet<String> keks = new TreeSet<>(sealed.stream()
                .map(KekSource::wrappedBy).filter(Optional::isPresent).map(Optional::get).toList());
        return sealed.size() + " private keys sealed under " + (keks.isEmpty() ? "a key-encryption key"
                : "key-encryption key " + String.join(", ", keks));
    }

    private static Optional<String> wrappedBy(SealedKeyRepository.SealedKey key) {
        try {
            return PrivateKeySealer.kekIdOf(key.sealed(), key.id());
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
