package dev.lanyard.server;

import dev.lanyard.ca.CaCertificate;
import dev.lanyard.ca.IssuingCa;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The X.509 CAs this server currently trusts: the roots of the trust bundle and every
 * intermediate whose certificates may still be presented (the active one, a prepared next one,
 * and retired ones while their certificates live). Swapped atomically as a whole.
 */
public final class TrustAuthorities {

    private record Snapshot(List<X509Certificate> roots, List<X509Certificate> intermediates,
            List<CaCertificate> issuingCas) {
    }

    private final AtomicReference<Snapshot> current;

    public TrustAuthorities(Collection<IssuingCa> cas) {
        current = new AtomicReference<>(snapshot(cas, List.of()));
    }

    public List<X509Certificate> roots() {
        return current.get().roots();
    }

    public List<X509Certificate> intermediates() {
        return current.get().intermediates();
    }

    /** The trusted intermediates with their keys: each signs the CRL for what it issued. */
    public List<CaCertificate> issuingCas() {
        return current.get().issuingCas();
    }

    /**
     * Replaces the trusted CAs. {@code newRoots} are roots published ahead of any intermediate under
     * them (a root rotation): in the bundle, but nothing chains to them yet.
     */
    public void update(Collection<IssuingCa> cas, Collection<X509Certificate> newRoots) {
        current.set(snapshot(cas, newRoots));
    }

    private static Snapshot snapshot(Collection<IssuingCa> cas, Collection<X509Certificate> newRoots) {
        Set<X509Certificate> roots = new LinkedHashSet<>();
        List<X509Certificate> intermediates = new ArrayList<>();
        List<CaCertificate> issuing = new ArrayList<>();
        for (IssuingCa ca : cas) {
            roots.add(ca.root().certificate());
            intermediates.add(ca.intermediate().certificate());
            issuing.add(ca.intermediate());
        }
        roots.addAll(newRoots);
        return new Snapshot(List.copyOf(roots), List.copyOf(intermediates), List.copyOf(issuing));
    }
}
