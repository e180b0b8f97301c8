package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.crypto.PrivateKeySealer;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Persists CA certificates through the repository, private keys sealed; loads them back, opening each key once. */
public final class CaKeyStore {

    private final CaKeyRepository repository;
    private final PrivateKeySealer sealer;
    private final CryptoProviders crypto;
    private final Clock clock;
    private final Map<String, CaCertificate> opened = new ConcurrentHashMap<>();

    public CaKeyStore(CaKeyRepository repository, PrivateKeySealer sealer, CryptoProviders crypto, Clock clock) {
        this.repository = repository;
        this.sealer = sealer;
        this.crypto = crypto;
        this.clock = clock;
    }

    public CaKeyRepository repository() {
        return repository;
    }

    /** The newest ACTIVE intermediate and the root that signed it, if the store has a CA. */
    public Optional<IssuingCa> loadActive() {
        return repository.all().stream()
                .filter(k -> k.kind() == StoredCaKey.Kind.INTERMEDIATE && k.status() == StoredCaKey.Status.ACTIVE)
                .reduce((older, newer) -> newer)
                .map(this::load);
    }

    /** The CA an intermediate row belongs to: the intermediate (key opened) and the root that signed it. */
    public IssuingCa load(StoredCaKey intermediateRow) {
        CaCertificate intermediate = open(intermediateRow);
        for (StoredCaKey candidate : repository.all()) {
            if (candidate.kind() == StoredCaKey.Kind.ROOT) {
                CaCertificate root = open(candidate);
                if (signs(root.certificate(), intermediate.certificate())) {
                    return new IssuingCa(root, intermediate);
                }
            }
        }
        throw new IllegalStateException("the store holds intermediate " + intermediate.keyId() + " but not its root");
    }

    /** Stores a new CA: the root (once) and the intermediate as ACTIVE. */
    public void save(IssuingCa ca) {
        saveIntermediate(ca, StoredCaKey.Status.ACTIVE);
    }

    /** Stores a rotated intermediate under a known root with the given status (PREPARED for rotation). */
    public void saveIntermediate(IssuingCa ca, StoredCaKey.Status status) {
        if (repository.find(ca.root().keyId()).isEmpty()) {
            repository.insert(row(ca.root(), StoredCaKey.Kind.ROOT, StoredCaKey.Status.ACTIVE));
        }
        repository.insert(row(ca.intermediate(), StoredCaKey.Kind.INTERMEDIATE, status));
    }

    private StoredCaKey row(CaCertificate ca, StoredCaKey.Kind kind, StoredCaKey.Status status) {
        Optional<String> sealed = ca.hasPrivateKey()
                ? Optional.of(sealer.seal(ca.privateKey(), ca.keyId()))
                : Optional.empty();
        return StoredCaKey.created(ca.keyId(), kind, status, Pem.certificates(List.of(ca.certificate())), sealed,
                ca.certificate().getNotAfter().toInstant(), clock.instant());
    }

    private CaCertificate open(StoredCaKey stored) {
        return opened.computeIfAbsent(stored.id(), id -> new CaCertificate(
                Pem.parseCertificates(stored.certificatePem()).get(0),
                stored.sealedPrivateKey().map(sealed -> sealer.open(sealed, id)).orElse(null), id));
    }

    private boolean signs(X509Certificate issuer, X509Certificate subject) {
        try {
            subject.verify(issuer.getPublicKey(), crypto.bouncyCastle());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }
}
