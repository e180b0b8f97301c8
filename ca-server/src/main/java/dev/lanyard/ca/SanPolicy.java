package dev.lanyard.ca;

import dev.lanyard.audit.AuditText;
import dev.lanyard.ca.CsrRejectedException.Reason;
import dev.lanyard.spiffe.SpiffeId;
import java.util.Collection;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What a CSR may ask for: its URI SAN, if any, is the identity being issued; its DNS names and CN
 * are within the registration. Asking for more is refused, never silently trimmed.
 */
public final class SanPolicy {

    // The last label is not all digits: no top-level domain is, and "10.0.0.1" is an IP address.
    private static final Pattern HOST_NAME = Pattern.compile(
            "(?=.{1,253}$)(?!(.*\\.)?[0-9]+$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private SanPolicy() {
    }

    /** Whether {@code lowerCase} is a host name a certificate may carry: no wildcard, no IP address. */
    public static boolean isHostName(String lowerCase) {
        return HOST_NAME.matcher(lowerCase).matches();
    }

    public static void check(ValidatedCsr csr, SpiffeId identity, Collection<String> allowedDnsNames)
            throws CsrRejectedException {
        Set<String> allowed = allowedDnsNames.stream().map(n -> n.toLowerCase(Locale.ROOT)).collect(Collectors.toSet());
        for (String uri : csr.requestedUris()) {
            if (!uri.equals(identity.toString())) {
                throw new CsrRejectedException(Reason.DISALLOWED_SAN,
                        "CSR asks for URI SAN " + named("URI SAN", uri) + "; this identity is " + identity);
            }
        }
        for (String dns : csr.requestedDnsNames()) {
            if (!allowed.contains(dns.toLowerCase(Locale.ROOT))) {
                throw new CsrRejectedException(Reason.DISALLOWED_SAN, "CSR asks for DNS name " + named("DNS name", dns)
                        + ", which the registration for " + identity + " does not allow");
            }
        }
        if (csr.commonName().isPresent()) {
            String cn = csr.commonName().get();
            if (!cn.equals(identity.toString()) && !allowed.contains(cn.toLowerCase(Locale.ROOT))) {
                throw new CsrRejectedException(Reason.DISALLOWED_SAN, "CSR asks for common name "
                        + named("common name", cn) + ", which is neither " + identity + " nor a DNS name its registration allows");
            }
        }
    }

    /**
     * A name the CSR asks for as a refusal may name it: a host name in lower case or a SPIFFE ID, never other
     * text, which may be a secret pasted into the wrong place (lower-cased, a JWT can pass for a host name).
     */
    private static String named(String field, String name) {
        if (isHostName(name) || AuditText.spiffeId(name).equals(name)) {
            return name;
        }
        return AuditText.invalid(field, name);
    }
}
