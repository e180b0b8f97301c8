package dev.lanyard.ca;

import dev.lanyard.ca.CsrRejectedException.Reason;
import dev.lanyard.spiffe.SpiffeId;
import java.util.Collection;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What a CSR may ask for: its URI SAN, if any, is the identity being issued; its DNS names and CN
 * are within the registration. Asking for more is refused, never silently trimmed.
 */
public final class SanPolicy {

    private SanPolicy() {
    }

    public static void check(ValidatedCsr csr, SpiffeId identity, Collection<String> allowedDnsNames)
            throws CsrRejectedException {
        Set<String> allowed = allowedDnsNames.stream().map(n -> n.toLowerCase(Locale.ROOT)).collect(Collectors.toSet());
        for (String uri : csr.requestedUris()) {
            if (!uri.equals(identity.toString())) {
                throw new CsrRejectedException(Reason.DISALLOWED_SAN,
                        "CSR asks for URI SAN " + uri + "; this identity is " + identity);
            }
        }
        for (String dns : csr.requestedDnsNames()) {
            if (!allowed.contains(dns.toLowerCase(Locale.ROOT))) {
                throw new CsrRejectedException(Reason.DISALLOWED_SAN, "CSR asks for DNS name " + dns
                        + ", which the registration for " + identity + " does not allow");
            }
        }
        if (csr.commonName().isPresent()) {
            String cn = csr.commonName().get();
            if (!cn.equals(identity.toString()) && !allowed.contains(cn.toLowerCase(Locale.ROOT))) {
                throw new CsrRejectedException(Reason.DISALLOWED_SAN, "CSR asks for common name " + cn
                        + ", which is neither " + identity + " nor a DNS name its registration allows");
            }
        }
    }
}
