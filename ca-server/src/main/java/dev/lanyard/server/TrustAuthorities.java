package dev.lanyard.server;

import dev.lanyard.ca.IssuingCa;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The CAs this server currently trusts and publishes: the roots of the trust bundle and every
 * intermediate whose certificates may still be presented. Swapped atomically as a whole, with a
 * sequence number that increases on every change so watchers can tell bundles apart.
 */
public final class TrustAuthorities {

    private record Snapshot(List<X509Certificate> roots, List<X509Certificate> intermediates, long sequence) {
    }

    private final AtomicReference<Snapshot> current;

    public TrustAuthorities(Collection<IssuingCa> cas) {
        current = new AtomicReference<>(snapshot(cas, 1));
    }

    public List<X509Certificate> roots() {
        return current.get().roots();
    }

    public List<X509Certificate> intermediates() {
        return current.get().intermediates();
    }

    public long sequence() {
        return current.get().sequence();
    }

    /** Replaces the published CAs; the sequence moves on. */
    public void update(Collection<IssuingCa> cas) {
        current.updateAndGet(old -> snapshot(cas, old.sequence() + 1));
    }

    private static Snapshot snapshot(Collection<IssuingCa> cas, long sequence) {
        Set<X509Certificate> roots = new LinkedHashSet<>();
        List<X509Certificate> intermediates = new ArrayList<>();
        for (IssuingCa ca : cas) {
            roots.add(ca.root().certificate());
            intermediates.add(ca.intermediate().certificate());
        }
        return new Snapshot(List.copyOf(roots), List.copyOf(intermediates), sequence);
    }
}
