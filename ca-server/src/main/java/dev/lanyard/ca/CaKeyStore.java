package dev.lanyard.ca;

import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.crypto.Pem;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.rotation.Fence;
import dev.lanyard.rotation.KeyStatus;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Persists CA certificates and the custody ids of their keys; loads them back with their custody signers. */
public final class CaKeyStore {

    private final CaKeyRepository repository;
    private final KeyCustody custody;
    private final CryptoProviders crypto;
    private final Clock clock;
    private final Map<String, CaCertificate> opened = new ConcurrentHashMap<>();
    private final Map<String, X509Certificate> parsed = new ConcurrentHashMap<>();
    private final Map<String, String> issuers = new ConcurrentHashMap<>();

    public CaKeyStore(CaKeyRepository repository, KeyCustody custody, CryptoProviders crypto, Clock clock) {
        this.repository = repository;
        this.custody = custody;
        this.crypto = crypto;
        this.clock = clock;
    }

    public CaKeyRepository repository() {
        return repository;
    }

    /** The newest ACTIVE intermediate and the root that signed it, if the store has a CA. */
    public Optional<IssuingCa> loadActive() {
        return repository.all().stream()
                .filter(k -> k.kind() == StoredCaKey.Kind.INTERMEDIATE && k.status() == KeyStatus.ACTIVE)
                .reduce((older, newer) -> newer)
                .map(this::load);
    }

    /**
     * The CA an intermediate row belongs to: the intermediate (with its signer) and the root that signed
     * it. Only that root's key is opened: another root's may be destroyed already (it left the bundle).
     */
    public IssuingCa load(StoredCaKey intermediateRow) {
        CaCertificate intermediate = open(intermediateRow);
        List<StoredCaKey> rows = repository.all();
        return rootOf(intermediateRow, rows)
                .flatMap(id -> rows.stream().filter(k -> k.id().equals(id)).findFirst())
                .map(root -> new IssuingCa(open(root), intermediate))
                .orElseThrow(() -> new IllegalStateException("the store holds intermediate " + intermediate.keyId()
                        + " but not its root"));
    }

    /** The certificate of a row, without opening its key (a dropped CA's key may be gone). */
    public X509Certificate certificate(StoredCaKey row) {
        return parsed.computeIfAbsent(row.id(), id -> Pem.parseCertificates(row.certificatePem()).get(0));
    }

    /** The id of the root row among {@code rows} that signed {@code intermediate}, if there is one. */
    public Optional<String> rootOf(StoredCaKey intermediate, List<StoredCaKey> rows) {
        String known = issuers.get(intermediate.id());
        if (known != null) {
            return Optional.of(known);
        }
        for (StoredCaKey candidate : rows) {
            if (candidate.kind() == StoredCaKey.Kind.ROOT && signs(certificate(candidate), certificate(intermediate))) {
                issuers.put(intermediate.id(), candidate.id());
                return Optional.of(candidate.id());
            }
        }
        return Optional.empty();
    }

    /** A root row with its custody signer, if its key is held here. */
    public CaCertificate openRoot(StoredCaKey row) {
        return open(row);
    }

    /** Publishes a new root: ahead of everything that will chain to it. */
    public void saveRoot(CaCertificate root) {
        repository.insert(row(root, StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE));
    }

    /** Stores a new CA: the root and the intermediate as ACTIVE. */
    public void save(IssuingCa ca) {
        if (repository.find(ca.root().keyId()).isEmpty()) {
            repository.insert(row(ca.root(), StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE));
        }
        repository.insert(row(ca.intermediate(), StoredCaKey.Kind.INTERMEDIATE, KeyStatus.ACTIVE));
    }

    /**
     * Stores a rotated intermediate with the given status (PREPARED for rotation), and its root if it is
     * new, only while {@code fence} holds the rotation lease.
     */
    public void saveIntermediate(IssuingCa ca, KeyStatus status, Fence fence) {
        if (repository.find(ca.root().keyId()).isEmpty()) {
            repository.insert(row(ca.root(), StoredCaKey.Kind.ROOT, KeyStatus.ACTIVE), fence);
        }
        repository.insert(row(ca.intermediate(), StoredCaKey.Kind.INTERMEDIATE, status), fence);
    }

    /** Destroys the custody key of a CA that was made but never stored: nothing may use it. */
    public void discard(CaCertificate ca) {
        if (ca.hasSigner()) {
            custody.destroy(ca.signer().id());
        }
    }

    /**
     * Destroys the custody key of a DROPPED CA (an intermediate, or a root that left the trust bundle)
     * and notes it on its row; a crash in between is finished by calling it again. Nothing needs the
     * key: everything the CA signed has expired, CRLs are signed only by the CAs still trusted, and no
     * intermediate is made under a root outside the bundle.
     */
    public void destroyKey(StoredCaKey dropped) {
        if (dropped.status() != KeyStatus.DROPPED) {
            throw new IllegalArgumentException("CA " + dropped.id() + " is " + dropped.status() + ", not DROPPED");
        }
        forget(dropped);
        dropped.custodyKeyId().ifPresent(custody::destroy);
        repository.keyDestroyed(dropped.id());
    }

    /** Lets go of what this process opened of a DROPPED CA's or root's key (dropped here or by another replica). */
    public void forget(StoredCaKey dropped) {
        CaCertificate held = opened.remove(dropped.id());
        if (held != null && held.hasSigner()) {
            custody.forget(held.signer().id());
        }
    }

    StoredCaKey row(CaCertificate ca, StoredCaKey.Kind kind, KeyStatus status) {
        Optional<String> custodyId = ca.hasSigner() ? Optional.of(ca.signer().id()) : Optional.empty();
        return StoredCaKey.created(ca.keyId(), kind, status, Pem.certificates(List.of(ca.certificate())), custodyId,
                ca.certificate().getNotAfter().toInstant(), clock.instant());
    }

    private CaCertificate open(StoredCaKey stored) {
        return opened.computeIfAbsent(stored.id(), id -> new CaCertificate(
                Pem.parseCertificates(stored.certificatePem()).get(0),
                stored.custodyKeyId().map(custody::signer).orElse(null), id));
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
