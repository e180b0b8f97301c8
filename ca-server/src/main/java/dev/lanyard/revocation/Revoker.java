package dev.lanyard.revocation;

import dev.lanyard.ca.IssuedCertificateRecord;
import dev.lanyard.ca.IssuedCertificateRepository;
import dev.lanyard.revocation.RevocationRefusedException.Code;
import dev.lanyard.revocation.RevocationRepository.NewRevocation;
import dev.lanyard.revocation.RevocationRepository.Outcome;
import dev.lanyard.spiffe.SpiffeId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Carries out revocations and reinstatements: resolves what a target covers, writes it durably,
 * then brings the in-memory registry (and through its listeners watchers and the CRLs) up to date
 * before returning, so the caller's next request already sees it.
 */
public final class Revoker {

    /** The longest note an admin may attach. */
    public static final int MAX_NOTE = 1_024;

    /** The result of a revocation: the one asked for, and the certificates revoked with an identity. */
    public record Result(Revocation revocation, boolean created, List<String> revokedSerials) {
        public Result {
            revokedSerials = List.copyOf(revokedSerials);
        }
    }

    private final String trustDomain;
    private final IssuedCertificateRepository issued;
    private final RevocationRepository repository;
    private final RevocationRegistry registry;
    private final Duration tokenLifetimeBound;
    private final Clock clock;

    /**
     * @param tokenLifetimeBound no token lives longer than this after it is minted (max TTL plus
     *                           verifier skew): a revoked jti is remembered that long
     */
    public Revoker(String trustDomain, IssuedCertificateRepository issued, RevocationRepository repository,
            RevocationRegistry registry, Duration tokenLifetimeBound, Clock clock) {
        this.trustDomain = trustDomain;
        this.issued = issued;
        this.repository = repository;
        this.registry = registry;
        this.tokenLifetimeBound = tokenLifetimeBound;
        this.clock = clock;
    }

    public Result revoke(RevocationTarget target, RevocationReason reason, String note, String actor)
            throws RevocationRefusedException {
        checkNote(note);
        Instant now = clock.instant();
        List<NewRevocation> writes = new ArrayList<>();
        switch (target.kind()) {
            case SERIAL -> {
                IssuedCertificateRecord certificate = issued.findBySerial(target.value()).orElseThrow(
                        () -> new RevocationRefusedException(Code.NOT_FOUND,
                                "no certificate with serial " + target.value() + " was issued by this server"));
                if (!certificate.notAfter().isAfter(now)) {
                    throw new RevocationRefusedException(Code.FAILED_PRECONDITION, "certificate " + target.value()
                            + " expired at " + certificate.notAfter() + "; there is nothing left to revoke");
                }
                writes.add(certificateRevocation(certificate, reason, note, now, actor));
            }
            case SPIFFE_ID -> {
                SpiffeId id = spiffeId(target.value());
                writes.add(new NewRevocation(target, reason, note, now, actor, id.toString(), "", Optional.empty()));
                for (IssuedCertificateRecord certificate : issued.live(id, now)) {
                    writes.add(certificateRevocation(certificate, reason, note, now, actor));
                }
            }
            case JTI -> writes.add(new NewRevocation(target, reason, note, now, actor, "", "",
                    Optional.of(now.plus(tokenLifetimeBound))));
        }
        List<Outcome> outcomes = repository.revoke(writes);
        registry.catchUp(); // the registry's listeners (watchers, CRLs) are up to date when this returns
        List<String> serials = outcomes.stream().skip(target.kind() == RevocationTarget.Kind.SPIFFE_ID ? 1 : 0)
                .map(o -> o.revocation().target().value()).toList();
        Outcome asked = outcomes.get(0);
        return new Result(asked.revocation(), asked.created(), target.kind() == RevocationTarget.Kind.SPIFFE_ID
                ? serials : List.of());
    }

    /** Lifts an identity revocation; its revoked certificates and tokens stay revoked. */
    public RevocationEvent.Reinstated reinstate(String spiffeId, String note, String actor)
            throws RevocationRefusedException {
        checkNote(note);
        SpiffeId id = spiffeId(spiffeId);
        Optional<RevocationEvent.Reinstated> reinstated = repository.reinstate(id.toString(), clock.instant(), actor, note);
        if (reinstated.isEmpty()) {
            throw new RevocationRefusedException(Code.NOT_FOUND, id + " is not revoked");
        }
        registry.catchUp();
        return reinstated.get();
    }

    private static NewRevocation certificateRevocation(IssuedCertificateRecord certificate, RevocationReason reason,
            String note, Instant now, String actor) {
        return new NewRevocation(RevocationTarget.serial(certificate.serialHex()), reason, note, now, actor,
                certificate.spiffeId().toString(), certificate.issuerKeyId(), Optional.of(certificate.notAfter()));
    }

    private SpiffeId spiffeId(String value) throws RevocationRefusedException {
        SpiffeId id;
        try {
            id = SpiffeId.parse(value);
        } catch (IllegalArgumentException e) {
            throw new RevocationRefusedException(Code.INVALID_ARGUMENT, "not a SPIFFE ID: " + e.getMessage());
        }
        if (!id.trustDomain().equals(trustDomain)) {
            throw new RevocationRefusedException(Code.INVALID_ARGUMENT,
                    id + " is not in this server's trust domain " + trustDomain);
        }
        return id;
    }

    private static void checkNote(String note) throws RevocationRefusedException {
        if (note.length() > MAX_NOTE) {
            throw new RevocationRefusedException(Code.INVALID_ARGUMENT, "the note is longer than " + MAX_NOTE + " characters");
        }
        if (note.chars().anyMatch(c -> Character.isISOControl(c) && c != '\n' && c != '\t')) {
            throw new RevocationRefusedException(Code.INVALID_ARGUMENT, "the note contains control characters");
        }
    }
}
