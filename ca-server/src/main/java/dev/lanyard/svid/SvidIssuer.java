package dev.lanyard.svid;

import dev.lanyard.refusal.Pending;
import dev.lanyard.refusal.Refusal;
import dev.lanyard.refusal.RefusedInTransaction;
import dev.lanyard.registration.AdminIds;
import dev.lanyard.registration.ReservedIds;
import dev.lanyard.attest.AttestationException;
import dev.lanyard.attest.Attestor;
import dev.lanyard.audit.AuditEvent;
import dev.lanyard.audit.AuditLog;
import dev.lanyard.ca.CertificateAuthority;
import dev.lanyard.ca.CsrRejectedException;
import dev.lanyard.ca.CsrValidator;
import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.ca.IssuedSvid;
import dev.lanyard.ca.SanPolicy;
import dev.lanyard.ca.ValidatedCsr;
import dev.lanyard.registration.Registration;
import dev.lanyard.registration.RegistrationCache;
import dev.lanyard.revocation.Revocation;
import dev.lanyard.revocation.RevocationRegistry;
import dev.lanyard.registration.RegistrationRepository;
import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.refusal.Refusal.Code;
import dev.lanyard.v1.Attestation;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Issues X.509-SVIDs to attested (bootstrap) or authenticated (renewal) workloads.
 *
 * <p>Everything that can refuse runs before anything is written: the CSR is checked, the
 * registration looked up and the SANs compared before the join token is redeemed, so a bad
 * request leaves no trace but its audit record. The token is redeemed in the transaction that
 * records the certificate: a token is spent only on a certificate that was issued.
 */
public final class SvidIssuer {

    private final Supplier<CertificateAuthority> ca;
    private final CsrValidator csrValidator;
    private final Attestor attestor;
    private final RegistrationRepository registrations;
    private final RegistrationCache heldRegistrations;
    private final IssuedCertificateRepository issued;
    private final AuditLog audit;
    private final Clock clock;
    private final Duration defaultTtl;
    private final RevocationRegistry revocations;
    private final AdminIds admins;

    public SvidIssuer(Supplier<CertificateAuthority> ca, CsrValidator csrValidator, Attestor attestor,
            RegistrationRepository registrations, IssuedCertificateRepository issued, AuditLog audit,
            Clock clock, Duration defaultTtl, RevocationRegistry revocations, AdminIds admins) {
        this.ca = ca;
        this.csrValidator = csrValidator;
        this.attestor = attestor;
        this.registrations = registrations;
        this.heldRegistrations = new RegistrationCache(registrations, RegistrationCache.DEFAULT_CAPACITY);
        this.issued = issued;
        this.audit = audit;
        this.clock = clock;
        this.defaultTtl = defaultTtl;
        this.revocations = revocations;
        this.admins = admins;
    }

    /** Bootstrap: the identity comes from the attestation, never from the CSR. */
    public IssuedSvid bootstrap(Attestation attestation, byte[] csrDer, Optional<Duration> ttl)
            throws Refusal {
        String actor = "anonymous";
        String target = "unknown";
        try {
            ValidatedCsr csr = validate(csrDer);
            SpiffeId id = attestor.verify(attestation);
            actor = id.toString();
            target = id.toString();
            refuseIfRevoked(id, Optional.empty());
            // Read from the database, not from memory: a bootstrap is decided once, not again as a
            // renewal is (the token is checked once).
            Registration registration = registrationOf(id, registrations::find);
            Duration lifetime = lifetime(ttl, registration);
            checkSans(csr, registration);
            return issueAndRecord(csr, registration, lifetime, actor, "certificate.bootstrap", List.of(),
                    () -> redeem(() -> attestor.redeem(attestation)));
        } catch (AttestationException e) {
            Refusal refused = refusalOf(e);
            refuse(actor, "certificate.bootstrap", target, refused);
            throw refused;
        } catch (Refusal e) {
            refuse(actor, "certificate.bootstrap", target, e);
            throw e;
        }
    }

    /**
     * Renewal: {@code peer} is the SPIFFE ID of the verified client certificate, {@code peerSerialHex}
     * its serial; a revoked identity or certificate is refused. It does not wait for the store (it may
     * read a registration the cache does not hold): the checks and the signature run on this thread;
     * the future completes once the certificate and its audit record are committed, or with the
     * {@link Refusal} once that is audited.
     */
    public CompletableFuture<IssuedSvid> renewAsync(SpiffeId peer, String peerSerialHex, byte[] csrDer,
            Optional<Duration> ttl) {
        return audit.preparing(() -> renewing(peer, peerSerialHex, csrDer, ttl));
    }

    private CompletableFuture<IssuedSvid> renewing(SpiffeId peer, String peerSerialHex, byte[] csrDer,
            Optional<Duration> ttl) {
        ValidatedCsr csr;
        try {
            refuseIfRevoked(peer, Optional.of(peerSerialHex));
            csr = validate(csrDer);
        } catch (Refusal e) {
            return refused(peer.toString(), "certificate.renew", peer.toString(), e);
        }
        return renewDecided(peer, peerSerialHex, csr, ttl, 1);
    }

    /** Decides on the registration held in memory and records; decides once more if it was replaced meanwhile. */
    private CompletableFuture<IssuedSvid> renewDecided(SpiffeId peer, String peerSerialHex, ValidatedCsr csr,
            Optional<Duration> ttl, int attempt) {
        Registration registration;
        Duration lifetime;
        try {
            registration = registrationOf(peer, heldRegistrations::find);
            lifetime = lifetime(ttl, registration);
            checkSans(csr, registration);
        } catch (Refusal e) {
            return refused(peer.toString(), "certificate.renew", peer.toString(), e);
        }
        return Pending.orIfRefused(signAndRecord(csr, registration, lifetime, peer.toString(), "certificate.renew",
                List.of(peerSerialHex), Optional.empty()), e -> e.retryable() && attempt == 1
                        ? renewDecided(peer, peerSerialHex, csr, ttl, 2) // decide again on the current one
                        : refused(peer.toString(), "certificate.renew", peer.toString(), e.refusal()));
    }

    ValidatedCsr validate(byte[] der) throws Refusal {
        try {
            return csrValidator.validate(der);
        } catch (CsrRejectedException e) {
            throw new Refusal(csrCode(e), e.getMessage());
        }
    }

    void refuseIfRevoked(SpiffeId id, Optional<String> serialHex) throws Refusal {
        Optional<Revocation> revocation = revocations.refusalFor(id, serialHex);
        if (revocation.isPresent()) {
            throw new Refusal(Code.PERMISSION_DENIED, revocation.get().refusalMessage());
        }
    }

    /**
     * Refuses an ID no workload may hold, even when a registration names it (one made before the ID
     * was configured as an admin's, or restored from a backup).
     */
    void refuseIfNotAWorkloadId(SpiffeId id) throws Refusal {
        if (ReservedIds.isReserved(id)) {
            throw new Refusal(Code.PERMISSION_DENIED, id + " is reserved for Lanyard itself and cannot be issued to a workload");
        }
        admins.refuseAsWorkload(id);
    }

    /** Whether a workload may hold {@code id}; an entry for one that may not is not served to agents. */
    boolean isWorkloadId(SpiffeId id) {
        return !ReservedIds.isReserved(id) && !admins.contains(id);
    }

    private Registration registrationOf(SpiffeId id, Function<SpiffeId, Optional<Registration>> source)
            throws Refusal {
        refuseIfNotAWorkloadId(id);
        return source.apply(id).orElseThrow(() -> new Refusal(
                Code.PERMISSION_DENIED, id + " has no registration; an admin must register it first"));
    }

    Duration lifetime(Optional<Duration> requested, Registration registration)
            throws Refusal {
        if (requested.isEmpty()) {
            return defaultTtl.compareTo(registration.maxTtl()) < 0 ? defaultTtl : registration.maxTtl();
        }
        Duration ttl = requested.get();
        if (ttl.isNegative() || ttl.isZero()) {
            throw new Refusal(Code.INVALID_ARGUMENT, "requested TTL must be positive");
        }
        if (ttl.compareTo(registration.maxTtl()) > 0) {
            throw new Refusal(Code.INVALID_ARGUMENT, "requested TTL " + ttl
                    + " exceeds the maximum " + registration.maxTtl() + " registered for " + registration.spiffeId());
        }
        return ttl;
    }

    static void checkSans(ValidatedCsr csr, Registration registration) throws Refusal {
        try {
            SanPolicy.check(csr, registration.spiffeId(), registration.dnsNames());
        } catch (CsrRejectedException e) {
            throw new Refusal(Code.PERMISSION_DENIED, e.getMessage());
        }
    }

    /**
     * Signs, then records the certificate with its audit record, ordered in the database with any
     * revocation of the identity: a revocation that committed first refuses it here, and so does a
     * registration other than {@code registration} (deleted and created again meanwhile).
     */
    IssuedSvid issueAndRecord(ValidatedCsr csr, Registration registration,
            Duration lifetime, String actor, String action, List<String> presentedSerials) throws Refusal {
        return issueAndRecord(csr, registration, lifetime, actor, action, presentedSerials, Optional.empty());
    }

    /**
     * As {@link #issueAndRecord}, making {@code alongside} (redeeming single-use evidence) in the
     * transaction that records the certificate, before it: both are stored or neither, and what it
     * refuses with refuses the certificate.
     */
    IssuedSvid issueAndRecord(ValidatedCsr csr, Registration registration, Duration lifetime, String actor,
            String action, List<String> presentedSerials, IssuedCertificateRepository.Alongside alongside)
            throws Refusal {
        return issueAndRecord(csr, registration, lifetime, actor, action, presentedSerials, Optional.of(alongside));
    }

    private IssuedSvid issueAndRecord(ValidatedCsr csr, Registration registration, Duration lifetime, String actor,
            String action, List<String> presentedSerials, Optional<IssuedCertificateRepository.Alongside> alongside)
            throws Refusal {
        try {
            return Pending.await(signAndRecord(csr, registration, lifetime, actor, action, presentedSerials,
                    alongside));
        } catch (RefusedInTransaction e) {
            throw e.refusal();
        }
    }

    /** Single-use evidence consumed, or the refusal its attestor's failure gets. */
    static void redeem(Redemption redemption) throws Refusal {
        try {
            redemption.redeem();
        } catch (AttestationException e) {
            throw refusalOf(e);
        }
    }

    /** An attestor's redemption of evidence. */
    @FunctionalInterface
    interface Redemption {
        void redeem() throws AttestationException;
    }

    /**
     * As {@link #issueAndRecord}, without waiting for the commit; the refusal left in its transaction's
     * exception. What was held of the registration is forgotten then.
     */
    private CompletableFuture<IssuedSvid> signAndRecord(ValidatedCsr csr, Registration registration,
            Duration lifetime, String actor, String action, List<String> presentedSerials,
            Optional<IssuedCertificateRepository.Alongside> alongside) {
        IssuedSvid svid = ca.get().issue(
                csr.publicKey(), registration.spiffeId(), requestedDns(csr, registration), lifetime);
        IssuedCertificateRecord record = new IssuedCertificateRecord(
                svid.serialHex(), registration.spiffeId(), svid.notBefore(), svid.notAfter(),
                svid.sha256Fingerprint(), clock.instant(), svid.issuerKeyId());
        AuditEvent issuance = new AuditEvent(clock.instant(), actor, action, registration.spiffeId() + " serial "
                + svid.serialHex(), AuditEvent.Outcome.SUCCESS, "");
        return (alongside.isEmpty()
                ? issued.recordForWorkload(record, issuance, presentedSerials, registration)
                : issued.recordForWorkload(record, issuance, presentedSerials, registration, alongside.get()))
                .whenComplete((recorded, failure) -> {
                    if (failure != null && Pending.cause(failure) instanceof RefusedInTransaction) {
                        heldRegistrations.forget(registration.spiffeId()); // deleted, replaced or revoked: read it again next time
                    }
                }).thenApply(recorded -> svid);
    }

    /**
     * The certificate carries the DNS names the CSR asked for (all allowed, by now); a CSR that asks for
     * none gets every name the registration allows, so a workload need not repeat its registration.
     */
    private static List<String> requestedDns(ValidatedCsr csr, Registration registration) {
        if (csr.requestedDnsNames().isEmpty()) {
            return registration.dnsNames();
        }
        return registration.dnsNames().stream()
                .filter(allowed -> csr.requestedDnsNames().stream().anyMatch(allowed::equalsIgnoreCase))
                .toList();
    }

    void refuse(String actor, String action, String target, Refusal e) {
        audit.record(refusal(actor, action, target, e));
    }

    /** {@link #refuse} without waiting: fails with {@code e} once its audit record is durable. */
    private <T> CompletableFuture<T> refused(String actor, String action, String target, Refusal e) {
        return audit.recordAsync(refusal(actor, action, target, e))
                .thenCompose(recorded -> CompletableFuture.failedFuture(e));
    }

    private AuditEvent refusal(String actor, String action, String target, Refusal e) {
        return new AuditEvent(clock.instant(), actor, action, target, AuditEvent.Outcome.REFUSED,
                e.code() + ": " + e.getMessage());
    }

    private static Code csrCode(CsrRejectedException e) {
        return e.reason() == CsrRejectedException.Reason.DISALLOWED_SAN ? Code.PERMISSION_DENIED : Code.INVALID_ARGUMENT;
    }

    /** The refusal an attestor's failure gets: its reason's status, its words. */
    static Refusal refusalOf(AttestationException e) {
        return new Refusal(attestationCode(e), e.getMessage());
    }

    static Code attestationCode(AttestationException e) {
        return switch (e.reason()) {
            case MISSING, MALFORMED, UNSUPPORTED_KIND -> Code.INVALID_ARGUMENT;
            case UNKNOWN, EXPIRED, USED, UNTRUSTED -> Code.UNAUTHENTICATED;
            case DENIED -> Code.PERMISSION_DENIED;
            case UNAVAILABLE -> Code.UNAVAILABLE;
        };
    }
}
