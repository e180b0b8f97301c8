package dev.lanyard.server;

import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.store.DurableFiles;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Where the key-encryption key comes from at start: a passphrase in the environment, or a file (made if missing). */
final class KekSource {

    private static final Logger LOG = LoggerFactory.getLogger(KekSource.class);
    /** A passphrase KEK's salt, in the data directory (backups carry it). */
    static final String PASSPHRASE_SALT_FILE = "kek.salt";

    private KekSource() {
    }

    static KeyEncryptionKey load(ServerConfig config, SecureRandom random) throws IOException {
        if (config.kekPassphraseEnv().isPresent()) {
            String name = config.kekPassphraseEnv().get();
            String passphrase = System.getenv(name);
            if (passphrase == null) {
                throw new IllegalStateException("environment variable " + name + " (kek.passphrase-env) is not set");
            }
            Path saltFile = config.dataDir().resolve(PASSPHRASE_SALT_FILE);
            if (!Files.exists(saltFile)) {
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
        LOG.warn("generated a new key-encryption key at {}: without it the CA keys cannot be decrypted, keep it safe",
                config.kekFile());
        return KeyEncryptionKey.generateFile(config.kekFile(), random);
    }
}
