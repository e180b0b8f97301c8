package dev.lanyard.ca;

import dev.lanyard.audit.ChangeRecord;
import dev.lanyard.refusal.Refusal;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The first step of a root rotation: a new root enters the trust bundle before anything chains to
 * it. An offline root's certificate is added as given (its key stays offline; the operator then
 * imports an intermediate it signed); a generated CA makes the new root in custody, and the next
 * intermediate the server prepares is signed by it. The old root leaves the bundle by itself, once
 * the last intermediate under it is dropped ({@link CaRotation}).
 */
public final class RootAdditions {

    private final CaRotation rotation;
    private final CaGenerator generator;
    private final Clock clock;
    private final String trustDomain;
    private final Duration rootTtl;

    public RootAdditions(CaRotation rotation, CaGenerator generator, Clock clock, String trustDomain, Duration rootTtl) {
        this.rotation = rotation;
        this.generator = generator;
        this.clock = clock;
        this.trustDomain = trustDomain;
        this.rootTtl = rootTtl;
    }

    /** Publishes an offline root's self-signed certificate, stored with {@code record}. */
    public CaCertificate add(String pem, ChangeRecord record) throws Refusal {
        X509Certificate root = OfflineIntermediates.firstCertificate(pem);
        if (root.getBasicConstraints() < 0) {
            throw Refusal.invalid("the certificate is not a CA certificate (no basicConstraints CA:true)");
        }
        try {
            if (!root.getSubjectX500Principal().equals(root.getIssuerX500Principal())) {
                throw new GeneralSecurityException("issuer differs from subject");
            }
            root.verify(root.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw Refusal.invalid("the certificate is not self-signed: a root signs itself (issuer "
                    + root.getIssuerX500Principal().getName() + ")");
        }
        Instant now = clock.instant();
        if (root.getNotBefore().toInstant().isAfter(now.plus(Duration.ofMinutes(5)))
                || !root.getNotAfter().toInstant().isAfter(now)) {
            throw Refusal.invalid("the root is not valid now: valid from " + root.getNotBefore().toInstant() + " to "
                    + root.getNotAfter().toInstant());
        }
        String trustDomainOfRoot;
        try {
            trustDomainOfRoot = IntermediateSigner.trustDomain(root);
        } catch (IllegalArgumentException e) {
            trustDomainOfRoot = trustDomain; // a root without a SPIFFE ID says nothing against this trust domain
        }
        if (!trustDomainOfRoot.equals(trustDomain)) {
            throw Refusal.invalid("the root names trust domain " + trustDomainOfRoot + ", not " + trustDomain);
        }
        CaCertificate added = new CaCertificate(root, null, X509.keyId(root));
        save(added, record);
        return added;
    }

    /** Makes and publishes a new root in custody, stored with {@code record}; only where this server holds its roots' keys. */
    public CaCertificate generate(ChangeRecord record) throws Refusal {
        List<CaCertificate> roots = rotation.trustedRoots();
        if (roots.stream().noneMatch(CaCertificate::hasSigner)) {
            throw Refusal.precondition("this CA's root keys are offline: add the new root's certificate instead"
                    + " (`lanyard ca add-root FILE`)");
        }
        CaCertificate root = generator.newRoot(trustDomain, rootTtl);
        try {
            save(root, record);
        } catch (Refusal | RuntimeException e) {
            rotation.store().discard(root); // neither stored nor recorded: nothing may use it
            throw e;
        }
        return root;
    }

    private void save(CaCertificate root, ChangeRecord record) throws Refusal {
        if (rotation.store().repository().find(root.keyId()).isPresent()) {
            throw new Refusal(Refusal.Code.ALREADY_EXISTS, "root " + root.keyId() + " is already known");
        }
        record.withDetail("root " + root.keyId()).with(() -> {
            rotation.store().saveRoot(root);
            return null;
        });
        rotation.refresh();
    }
}
