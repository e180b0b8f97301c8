package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.crypto.PrivateKeySealer;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/** Persists the CA through the repository, private keys sealed; loads it back on start. */
public final class CaKeyStore {

    private final CaKeyRepository repository;
    private final PrivateKeySealer sealer;
    private final CryptoProviders crypto;
    private final Clock clock;

    public CaKeyStore(CaKeyRepository repository, PrivateKeySealer sealer, CryptoProviders crypto, Clock clock) {
        this.repository = repository;
        this.sealer = sealer;
        this.crypto = crypto;
        this.clock = clock;
    }

    /** The newest ACTIVE intermediate and the root that signed it, if the store has a CA. */
    public Optional<IssuingCa> loadActive() {
        List<StoredCaKey> all = repository.all();
        Optional<StoredCaKey> active = all.stream()
                .filter(k -> k.kind() == StoredCaKey.Kind.INTERMEDIATE && k.status() == StoredCaKey.Status.ACTIVE)
                .reduce((older, newer) -> newer);
        if (active.isEmpty()) {
            return Optional.empty();
        }
        CaCertificate intermediate = load(active.get());
        for (StoredCaKey candidate : all) {
            if (candidate.kind() != StoredCaKey.Kind.ROOT) {
                continue;
            }
            CaCertificate root = load(candidate);
            if (signs(root.certificate(), intermediate.certificate())) {
                return Optional.of(new IssuingCa(root, intermediate));
            }
        }
        throw new IllegalStateException("the store holds intermediate " + intermediate.keyId() + " but not its root");
    }

    /** Stores the root (once) and the intermediate as ACTIVE. */
    public void save(IssuingCa ca) {
        if (repository.find(ca.root().keyId()).isEmpty()) {
            repository.insert(row(ca.root(), StoredCaKey.Kind.ROOT));
        }
        repository.insert(row(ca.intermediate(), StoredCaKey.Kind.INTERMEDIATE));
    }

    private StoredCaKey row(CaCertificate ca, StoredCaKey.Kind kind) {
        Optional<String> sealed = ca.hasPrivateKey()
                ? Optional.of(sealer.seal(ca.privateKey(), ca.keyId()))
                : Optional.empty();
        return new StoredCaKey(ca.keyId(), kind, StoredCaKey.Status.ACTIVE, Pem.certificates(List.of(ca.certificate())),
                sealed, ca.certificate().getNotAfter().toInstant(), clock.instant());
    }

    private CaCertificate load(StoredCaKey stored) {
        X509Certificate certificate = Pem.parseCertificates(stored.certificatePem()).get(0);
        return new CaCertificate(certificate,
                stored.sealedPrivateKey().map(sealed -> sealer.open(sealed, stored.id())).orElse(null), stored.id());
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
