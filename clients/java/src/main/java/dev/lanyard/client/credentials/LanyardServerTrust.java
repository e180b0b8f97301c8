package dev.lanyard.client.credentials;

import java.net.URI;
import java.net.URISyntaxException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts Lanyard itself, the way the Go and Rust clients do: a chain to the roots whose leaf is the
 * server's own SVID, {@code spiffe://<trust domain>/lanyard/server}. Host names play no part: a workload
 * may be registered with any DNS name, {@code localhost} or Lanyard's own included, so a DNS SAN proves
 * nothing about being Lanyard; the reserved SPIFFE ID does.
 */
final class LanyardServerTrust extends ServerIdTrustManager {

    static final String SERVER_PATH = "/lanyard/server";

    private final X509ExtendedTrustManager roots;
    private final Optional<String> trustDomain;
    /** The trust domain of the last server accepted: at bootstrap with a trust bundle, how it is learnt. */
    private final AtomicReference<String> accepted = new AtomicReference<>();

    /**
     * @param roots       checks the chain; only its two-argument methods are called, which check no host name
     * @param trustDomain the server's trust domain when known (from the pinned bundle or the workload's
     *                    identity); empty only at bootstrap with a trust bundle, where the server of any trust
     *                    domain the roots vouch for is accepted
     */
    LanyardServerTrust(X509ExtendedTrustManager roots, Optional<String> trustDomain) {
        super("a channel to Lanyard never authenticates clients");
        this.roots = roots;
        this.trustDomain = trustDomain;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the server presented no certificate");
        }
        roots.checkServerTrusted(chain, authType);
        String id;
        try {
            id = IssuedSvidCheck.spiffeId(chain[0]);
        } catch (CredentialException e) {
            throw new CertificateException("the server's certificate: " + e.getMessage(), e);
        }
        String expected = "spiffe://" + trustDomain.orElse("<trust domain>") + SERVER_PATH;
        if (!(trustDomain.isPresent() ? id.equals(expected) : isServerOfSomeTrustDomain(id))) {
            throw new CertificateException("the server presented " + id + ", not " + expected
                    + ": it is not the Lanyard server");
        }
        accepted.set(IssuedSvidCheck.trustDomainOf(id));
    }

    /** The trust domain of the Lanyard server this trust manager last accepted, empty before any. */
    Optional<String> acceptedTrustDomain() {
        return Optional.ofNullable(accepted.get());
    }

    private static boolean isServerOfSomeTrustDomain(String id) {
        try {
            URI uri = new URI(id);
            return uri.getHost() != null && !uri.getHost().isEmpty() && SERVER_PATH.equals(uri.getRawPath())
                    && uri.getRawQuery() == null && uri.getRawFragment() == null && uri.getRawUserInfo() == null
                    && uri.getPort() == -1;
        } catch (URISyntaxException e) {
            return false;
        }
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return roots.getAcceptedIssuers();
    }
}
