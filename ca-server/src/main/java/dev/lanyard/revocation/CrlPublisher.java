package dev.lanyard.revocation;

import dev.lanyard.ca.CaCertificate;
import dev.lanyard.ca.CrlIssuer;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Keeps a current signed CRL for every issuing CA still trusted (so every CA whose certificates
 * may still live): regenerated at once when a certificate is revoked, and again at half its
 * validity, so a fetched CRL never reaches its nextUpdate before a newer one is published.
 */
public final class CrlPublisher {

    /** One signed CRL, DER. */
    public record Crl(String issuerKeyId, long number, Instant thisUpdate, Instant nextUpdate, int entries, byte[] der) {
    }

    private static final Duration MAX_CACHE_AGE = Duration.ofSeconds(30);

    private final Supplier<List<CaCertificate>> issuingCas;
    private final RevocationRegistry registry;
    private final RevocationRepository numbers;
    private final CrlIssuer issuer;
    private final Duration validity;
    private final Clock clock;
    private volatile Map<String, Crl> current = Map.of();

    public CrlPublisher(Supplier<List<CaCertificate>> issuingCas, RevocationRegistry registry,
            RevocationRepository numbers, CrlIssuer issuer, Duration validity, Clock clock) {
        this.issuingCas = issuingCas;
        this.registry = registry;
        this.numbers = numbers;
        this.issuer = issuer;
        this.validity = validity;
        this.clock = clock;
    }

    /** Whether {@code event} changes what a CRL lists: one of our certificates was revoked. */
    public static boolean listsIn(RevocationEvent event) {
        return event instanceof RevocationEvent.Revoked r && r.revocation().target().kind() == RevocationTarget.Kind.SERIAL
                && !r.revocation().federated();
    }

    /** Signs a new CRL for every trusted issuing CA, each with the next CRL number. */
    public synchronized void regenerate() {
        Instant now = clock.instant();
        Map<String, List<CrlIssuer.Entry>> entries = new HashMap<>();
        for (Revocation r : registry.inForce()) {
            if (r.target().kind() == RevocationTarget.Kind.SERIAL && !r.federated()) {
                entries.computeIfAbsent(r.issuerKeyId(), k -> new ArrayList<>()).add(
                        new CrlIssuer.Entry(new BigInteger(r.target().value(), 16), r.revokedAt(), r.reason().code()));
            }
        }
        Map<String, Crl> next = new HashMap<>();
        for (CaCertificate ca : issuingCas.get()) {
            if (!ca.hasSigner()) {
                continue;
            }
            List<CrlIssuer.Entry> revoked = entries.getOrDefault(ca.keyId(), List.of());
            // Never below the epoch second: after a restore from a backup, numbers stay above those the
            // lost server published since the backup (monotonic for relying parties that keep the highest).
            long number = numbers.nextCrlNumber(ca.keyId(), now.getEpochSecond());
            Instant nextUpdate = now.plus(validity);
            byte[] der = issuer.issue(ca, number, now, nextUpdate, revoked);
            next.put(ca.keyId(), new Crl(ca.keyId(), number, now, nextUpdate, revoked.size(), der));
        }
        current = Map.copyOf(next);
    }

    /** Regenerates when a trusted CA has no CRL yet or the newest ones have used half their validity. */
    public void regenerateIfDue() {
        Map<String, Crl> crls = current;
        Instant now = clock.instant();
        boolean due = issuingCas.get().stream().filter(CaCertificate::hasSigner)
                .anyMatch(ca -> !crls.containsKey(ca.keyId()))
                || crls.values().stream().anyMatch(c -> !now.isBefore(c.thisUpdate().plus(validity.dividedBy(2))));
        if (due) {
            regenerate();
        }
    }

    /** The current CRL of one issuing CA. */
    public Optional<Crl> forIssuer(String issuerKeyId) {
        return Optional.ofNullable(current.get(issuerKeyId));
    }

    /**
     * How long HTTP caches may keep a CRL: short, because a revocation replaces it at once; the
     * watch stream is the fast path, the CRL the fallback that must not lag far behind it.
     */
    public Duration maxAge() {
        Duration half = validity.dividedBy(2);
        return half.compareTo(MAX_CACHE_AGE) < 0 ? half : MAX_CACHE_AGE;
    }
}
