package dev.lanyard.ca;

import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.crypto.Pem;
import dev.lanyard.custody.KeyCustody;
import dev.lanyard.custody.Signer;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.rotation.KeyStatus;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * An issuing CA whose root stays offline rotates through a CSR: {@link #prepare()} makes the next
 * key in custody and answers its CSR; the operator has the offline root sign it; {@link
 * #importCertificate(String)} checks the certificate and makes it the PREPARED successor, from where
 * {@link CaRotation} takes it through published, active and retired like a generated one.
 */
public final class OfflineIntermediates {

    /** Clock skew tolerated on an imported certificate's notBefore. */
    private static final Duration SKEW = Duration.ofMinutes(5);

    /** A prepared key, and whether an earlier call had made it (the same CSR again). */
    public record Prepared(PendingCaKey key, boolean existing) {
    }

    private final CaRotation rotation;
    private final CaGenerator generator;
    private final KeyCustody custody;
    private final Clock clock;
    private final String trustDomain;
    private final Duration minimumValidity;

    /**
     * @param minimumValidity how long an imported certificate must still be valid: at least the publish
     *                        lead and the longest certificate it may sign, or it could not rotate in
     */
    public OfflineIntermediates(CaRotation rotation, CaGenerator generator, KeyCustody custody, Clock clock,
            String trustDomain, Duration minimumValidity) {
        this.rotation = rotation;
        this.generator = generator;
        this.custody = custody;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.minimumValidity = minimumValidity;
    }

    /**
     * The next intermediate's key and CSR, stored with {@code record}; the one already waiting for its
     * certificate, if there is one (then {@code record} is stored alone).
     */
    public Prepared prepare(ChangeRecord record) throws Refusal {
        CaKeyRepository repository = rotation.store().repository();
        Optional<StoredCaKey> successor = rotation.intermediates().stream()
                .filter(k -> k.status() == KeyStatus.PREPARED).findFirst();
        if (successor.isPresent()) {
            throw Refusal.precondition("issuing CA " + successor.get().id() + " is already prepared as the successor;"
                    + " prepare the next one after it activates (`lanyard keys list` says when)");
        }
        List<PendingCaKey> pending = repository.pending();
        if (!pending.isEmpty()) {
            return waiting(pending, record);
        }
        Signer key = generator.newKey();
        String keyId = CaGenerator.keyId(key);
        PendingCaKey prepared = new PendingCaKey(keyId, key.id(),
                IntermediateCsr.create(key, CaGenerator.intermediateName(trustDomain, keyId), trustDomain),
                clock.instant());
        boolean stored;
        try {
            // Checked again where every recorded change is serialised: a concurrent prepare may have won.
            stored = record.withDetail("key " + keyId).withIfChanged(() -> {
                if (!repository.pending().isEmpty()) {
                    return false;
                }
                repository.insertPending(prepared);
                return true;
            });
        } catch (RuntimeException e) {
            custody.destroy(key.id()); // neither stored nor recorded: nothing may use it
            throw e;
        }
        if (stored) {
            return new Prepared(prepared, false);
        }
        custody.destroy(key.id());
        return waiting(repository.pending(), record);
    }

    /** The key already waiting for its certificate (the newest), answered again; {@code record} stored alone. */
    private static Prepared waiting(List<PendingCaKey> pending, ChangeRecord record) {
        PendingCaKey waiting = pending.get(pending.size() - 1);
        record.withDetail("key " + waiting.id() + " (already prepared)").alone();
        return new Prepared(waiting, true);
    }

    /**
     * Takes the certificate an offline root signed for the prepared key. Every check runs before
     * anything is written; a refusal stores nothing. The row is stored with {@code record}.
     */
    public StoredCaKey importCertificate(String pem, ChangeRecord record) throws Refusal {
        X509Certificate certificate = firstCertificate(pem);
        List<PendingCaKey> pending = rotation.store().repository().pending();
        if (pending.isEmpty()) {
            throw Refusal.precondition("no intermediate key is prepared: run `lanyard ca prepare`, have the offline"
                    + " root sign its CSR, then import that certificate");
        }
        checkIsCa(certificate);
        PendingCaKey key = pending.stream().filter(p -> Arrays.equals(
                        custody.signer(p.custodyKeyId()).publicKey().getEncoded(),
                        certificate.getPublicKey().getEncoded()))
                .findFirst().orElseThrow(() -> Refusal.invalid("the certificate is for key "
                        + X509.keyId(certificate) + ", not the prepared key "
                        + pending.stream().map(PendingCaKey::id).collect(Collectors.joining(", "))
                        + ": sign the CSR that `lanyard ca prepare` wrote"));
        X509Certificate root = issuingRoot(certificate);
        Instant now = clock.instant();
        checkValidity(certificate, root, now);
        checkTrustDomain(certificate);
        String id = X509.keyId(certificate);
        if (rotation.store().repository().find(id).isPresent()) {
            throw new Refusal(Refusal.Code.ALREADY_EXISTS, "issuing CA " + id + " is already imported");
        }
        StoredCaKey row = StoredCaKey.created(id, StoredCaKey.Kind.INTERMEDIATE, KeyStatus.PREPARED,
                Pem.certificates(List.of(certificate)), Optional.of(key.custodyKeyId()),
                certificate.getNotAfter().toInstant(), now);
        record.withDetail("key " + id).with(() -> {
            if (!rotation.store().repository().certifyPending(key.id(), row)) {
                throw Refusal.precondition("prepared key " + key.id() + " was imported by another call meanwhile");
            }
            return null;
        });
        rotation.refresh();
        return row;
    }

    static X509Certificate firstCertificate(String pem) throws Refusal {
        List<X509Certificate> certificates;
        try {
            certificates = Pem.parseCertificates(pem);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("certificate_pem is not PEM certificates: " + e.getMessage());
        }
        if (certificates.isEmpty()) {
            throw Refusal.invalid("certificate_pem holds no PEM CERTIFICATE block");
        }
        return certificates.get(0);
    }

    private static void checkIsCa(X509Certificate certificate) throws Refusal {
        if (certificate.getBasicConstraints() < 0) {
            throw Refusal.invalid("the certificate is not a CA certificate (no basicConstraints CA:true): the offline"
                    + " root must sign the CSR as an intermediate CA");
        }
        boolean[] usage = certificate.getKeyUsage();
        if (usage != null && !usage[5]) {
            throw Refusal.invalid("the certificate may not sign certificates (its key usage lacks keyCertSign)");
        }
    }

    /** The root in the trust bundle that signed it; a new root must be added (and published) first. */
    private X509Certificate issuingRoot(X509Certificate certificate) throws Refusal {
        List<X509Certificate> roots = rotation.trustedRoots().stream().map(CaCertificate::certificate).toList();
        for (X509Certificate root : roots) {
            if (root.getSubjectX500Principal().equals(certificate.getIssuerX500Principal())) {
                try {
                    certificate.verify(root.getPublicKey());
                    return root;
                } catch (GeneralSecurityException e) {
                    // same name, another key: try the next root
                }
            }
        }
        throw Refusal.invalid("the certificate (issuer " + certificate.getIssuerX500Principal().getName()
                + ") is not signed by a root in the trust bundle (roots sha256:"
                + roots.stream().map(Pem::sha256Fingerprint).collect(Collectors.joining(", sha256:"))
                + "); a new root must be added first with `lanyard ca add-root`");
    }

    private void checkValidity(X509Certificate certificate, X509Certificate root, Instant now) throws Refusal {
        Instant notBefore = certificate.getNotBefore().toInstant();
        Instant notAfter = certificate.getNotAfter().toInstant();
        if (notBefore.isAfter(now.plus(SKEW))) {
            throw Refusal.invalid("the certificate is not valid yet: its notBefore is " + notBefore + ", now is " + now);
        }
        if (!notAfter.isAfter(now)) {
            throw Refusal.invalid("the certificate expired at " + notAfter);
        }
        if (notAfter.isBefore(now.plus(minimumValidity))) {
            throw Refusal.invalid("the certificate is valid only until " + notAfter + ": an issuing CA must stay valid"
                    + " at least " + minimumValidity + " (the publish lead and the longest certificate it signs)");
        }
        if (notAfter.isAfter(root.getNotAfter().toInstant())) {
            throw Refusal.invalid("the certificate outlives its root (" + notAfter + " > "
                    + root.getNotAfter().toInstant() + ")");
        }
    }

    /** A SPIFFE ID on an intermediate names its trust domain; another trust domain's is refused. */
    private void checkTrustDomain(X509Certificate certificate) throws Refusal {
        try {
            if (certificate.getSubjectAlternativeNames() == null) {
                return;
            }
            for (List<?> san : certificate.getSubjectAlternativeNames()) {
                if ((Integer) san.get(0) == 6 && ((String) san.get(1)).startsWith("spiffe://")
                        && !san.get(1).equals("spiffe://" + trustDomain)) {
                    throw Refusal.invalid("the certificate names " + san.get(1) + ", not this CA's trust domain spiffe://"
                            + trustDomain);
                }
            }
        } catch (CertificateParsingException e) {
            throw Refusal.invalid("the certificate's names cannot be read: " + e.getMessage());
        }
    }
}
