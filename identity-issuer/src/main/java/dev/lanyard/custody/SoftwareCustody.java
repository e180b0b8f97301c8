package dev.lanyard.custody;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.PublicKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The default custody: keys made in software and kept in the database sealed by {@link KeySealer}
 * (envelope encryption under the key-encryption key), opened only in memory, once per key.
 */
public final class SoftwareCustody implements KeyCustody {

    private final SealedKeyRepository repository;
    private final KeySealer sealer;
    private final Provider provider;
    private final Provider fallback;
    private final Clock clock;
    private final Map<String, Signer> opened = new ConcurrentHashMap<>();

    /** {@code provider} makes keys and signs; {@code fallback} does what it lacks (Ed25519, PSS). */
    public SoftwareCustody(SealedKeyRepository repository, KeySealer sealer, Provider provider, Provider fallback,
            Clock clock) {
        this.repository = repository;
        this.sealer = sealer;
        this.provider = provider;
        this.fallback = fallback;
        this.clock = clock;
    }

    @Override
    public String name() {
        return "software";
    }

    @Override
    public Signer generate(String id, KeyAlgorithm algorithm) {
        KeyPair keys = newKeyPair(algorithm);
        return store(id, algorithm, keys.getPrivate(), keys.getPublic());
    }

    @Override
    public Signer importKey(String id, KeyAlgorithm algorithm, PrivateKey key) {
        return store(id, algorithm, key, PublicKeys.of(key, fallback));
    }

    @Override
    public Signer signer(String id) {
        return opened.computeIfAbsent(id, this::open);
    }

    @Override
    public List<KeyEntry> list() {
        return repository.all().stream()
                .map(k -> new KeyEntry(k.id(), k.algorithm().orElseGet(() -> signer(k.id()).algorithm()),
                        k.createdAt()))
                .toList();
    }

    @Override
    public boolean destroy(String id) {
        opened.remove(id);
        return repository.delete(id);
    }

    @Override
    public void forget(String id) {
        opened.remove(id);
    }

    /**
     * What {@link #rewrapAll()} did: rows rewritten, the ids it could not unwrap (a KEK this process
     * lacks), and the ids of the KEKs that wrapped those, where their format names them.
     */
    public record Rewrap(int rewritten, List<String> failed, java.util.Set<String> missingKeks) {
    }

    /**
     * Re-wraps every data key under the sealer's current key-encryption key (KEK rotation); private
     * keys are never decrypted. Safe while the server signs and while keys are added or destroyed:
     * each row is replaced only if it did not change meanwhile, and is read again if it did.
     */
    public Rewrap rewrapAll() {
        int rewritten = 0;
        List<String> failed = new java.util.ArrayList<>();
        java.util.Set<String> missingKeks = new java.util.TreeSet<>();
        for (SealedKeyRepository.SealedKey key : repository.all()) {
            Optional<SealedKeyRepository.SealedKey> current = Optional.of(key);
            while (current.isPresent()) {
                String sealed = current.get().sealed();
                String rewrapped;
                try {
                    rewrapped = sealer.rewrap(sealed, key.id());
                } catch (RuntimeException e) {
                    failed.add(key.id());
                    sealer.wrappedBy(sealed, key.id()).ifPresent(missingKeks::add);
                    break;
                }
                if (rewrapped.equals(sealed)) {
                    break;
                }
                if (repository.replaceSealed(key.id(), sealed, rewrapped)) {
                    rewritten++;
                    break;
                }
                current = repository.find(key.id());
            }
        }
        return new Rewrap(rewritten, List.copyOf(failed), java.util.Set.copyOf(missingKeks));
    }

    private Signer store(String id, KeyAlgorithm algorithm, PrivateKey privateKey, PublicKey publicKey) {
        SealedKeyRepository.SealedKey row = new SealedKeyRepository.SealedKey(id, Optional.of(algorithm),
                Optional.of(Base64.getEncoder().encodeToString(publicKey.getEncoded())),
                sealer.seal(privateKey, id), clock.instant());
        if (!repository.insert(row)) {
            throw new CustodyException("software custody already holds a key with id " + id);
        }
        Signer signer = new JcaSigner(id, algorithm, privateKey, publicKey, List.of(provider, fallback));
        opened.put(id, signer);
        return signer;
    }

    private Signer open(String id) {
        SealedKeyRepository.SealedKey row = repository.find(id)
                .orElseThrow(() -> new CustodyException("software custody holds no key with id " + id));
        PrivateKey privateKey = sealer.open(row.sealed(), id);
        PublicKey publicKey = row.publicKeyDer()
                .map(der -> PublicKeys.decode(privateKey.getAlgorithm().equals("EdDSA") ? "Ed25519"
                        : privateKey.getAlgorithm(), Base64.getDecoder().decode(der), fallback))
                .orElseGet(() -> PublicKeys.of(privateKey, fallback));
        KeyAlgorithm algorithm = row.algorithm().orElseGet(() -> PublicKeys.algorithmOf(publicKey));
        return new JcaSigner(id, algorithm, privateKey, publicKey, List.of(provider, fallback));
    }

    private KeyPair newKeyPair(KeyAlgorithm algorithm) {
        try {
            KeyPairGenerator generator;
            try {
                generator = KeyPairGenerator.getInstance(algorithm.keyType(), provider);
            } catch (GeneralSecurityException e) {
                generator = KeyPairGenerator.getInstance(algorithm.keyType(), fallback);
            }
            if (algorithm.curve().isPresent()) {
                generator.initialize(new ECGenParameterSpec(algorithm.curve().get()));
            } else if (algorithm.keyType().equals("RSA")) {
                generator.initialize(algorithm.bits());
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new CustodyException("cannot generate a " + algorithm + " key", e);
        }
    }
}
