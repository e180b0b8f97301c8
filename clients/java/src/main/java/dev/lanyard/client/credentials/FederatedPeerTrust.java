package dev.lanyard.client.credentials;

import java.net.Socket;
import java.net.URI;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trusts a peer X.509-SVID from this workload's own trust domain or from one Lanyard federates with,
 * and only from the trust domains the caller allows: the peer's chain must lead to the roots of its
 * own trust domain (never another's), and that trust domain must be in {@code allowed}. Host names
 * play no part; the SPIFFE ID is the identity.
 */
public final class FederatedPeerTrust extends X509ExtendedTrustManager {

    private final String ownTrustDomain;
    private final Supplier<List<X509Certificate>> ownRoots;
    private final Supplier<Map<String, List<X509Certificate>>> federated;
    private final Set<String> allowed;
    private final PeerRevocations revocations;

    /**
     * @param federated the roots of each federated trust domain now (WorkloadCredentials keeps them)
     * @param allowed   the trust domains whose workloads may be peers (name the own one too, if so)
     */
    public FederatedPeerTrust(String ownTrustDomain, Supplier<List<X509Certificate>> ownRoots,
            Supplier<Map<String, List<X509Certificate>>> federated, Set<String> allowed) {
        this(ownTrustDomain, ownRoots, federated, allowed, new PeerRevocations());
    }

    /** As the public constructor, also refusing the peers {@code revocations} say are revoked. */
    FederatedPeerTrust(String ownTrustDomain, Supplier<List<X509Certificate>> ownRoots,
            Supplier<Map<String, List<X509Certificate>>> federated, Set<String> allowed,
            PeerRevocations revocations) {
        this.ownTrustDomain = ownTrustDomain;
        this.ownRoots = ownRoots;
        this.federated = federated;
        this.allowed = Set.copyOf(allowed);
        this.revocations = revocations;
    }

    private void check(X509Certificate[] chain, String authType, boolean client) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the peer presented no certificate");
        }
        String trustDomain = spiffeTrustDomain(chain[0]);
        if (!allowed.contains(trustDomain)) {
            throw new CertificateException("the peer is in trust domain " + trustDomain
                    + ", which this caller does not allow (allowed: " + allowed + ")");
        }
        List<X509Certificate> roots = trustDomain.equals(ownTrustDomain) ? ownRoots.get()
                : federated.get().get(trustDomain);
        if (roots == null || roots.isEmpty()) {
            throw new CertificateException("the peer is in trust domain " + trustDomain
                    + ", which Lanyard does not federate with");
        }
        X509ExtendedTrustManager pkix = ReloadingTrustManager.pkix(roots);
        if (client) {
            pkix.checkClientTrusted(chain, authType);
        } else {
            pkix.checkServerTrusted(chain, authType);
        }
        revocations.refuseIfRevoked(chain[0]);
    }

    private static String spiffeTrustDomain(X509Certificate leaf) throws CertificateException {
        Collection<List<?>> sans;
        try {
            sans = leaf.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            throw new CertificateException("the peer's certificate has unreadable SANs", e);
        }
        List<String> uris = sans == null ? List.of()
                : sans.stream().filter(san -> Integer.valueOf(6).equals(san.get(0))).map(san -> (String) san.get(1)).toList();
        if (uris.size() != 1 || !uris.get(0).startsWith("spiffe://")) {
            throw new CertificateException("the peer's certificate is not an X.509-SVID (URI SANs " + uris + ")");
        }
        String host = URI.create(uris.get(0)).getHost();
        if (host == null || host.isEmpty()) {
            throw new CertificateException("the peer's SPIFFE ID " + uris.get(0) + " has no trust domain");
        }
        return host;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, authType, true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, authType, false);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, authType, true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, authType, false);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, authType, true);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, authType, false);
    }

    /**
     * None: a server names no CA in its CertificateRequest, so a client's key manager, stock or SPIFFE, presents
     * its SVID whatever its trust domain, and {@link #checkClientTrusted} decides (as java-spiffe's trust manager
     * and go-spiffe do). A list of names could not follow the federated bundles: Netty's OpenSSL server (gRPC's
     * default) reads it once, when the server is built, so a trust domain federated later would never be named
     * and its stock clients would present nothing. Nor does it tell whoever connects which trust domains we trust.
     */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
