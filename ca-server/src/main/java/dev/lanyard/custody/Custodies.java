package dev.lanyard.custody;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.KeyEncryptionKey;
import dev.lanyard.crypto.PrivateKeySealer;
import java.security.SecureRandom;
import java.time.Clock;

/** Ready-made custodies for the server's parts that run without its database (benchmarks, tools, tests). */
public final class Custodies {

    private Custodies() {
    }

    /** Software custody whose keys live in memory only, sealed under a KEK that dies with the process. */
    public static SoftwareCustody inMemory(CryptoProviders crypto, SecureRandom random, Clock clock) {
        return new SoftwareCustody(new InMemorySealedKeyRepository(),
                new PrivateKeySealer(KeyEncryptionKey.ephemeral(random), random, crypto), crypto.primary(),
                crypto.bouncyCastle(), clock);
    }
}
