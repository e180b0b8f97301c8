package dev.lanyard.client.credentials;

import com.google.protobuf.ByteString;
import dev.lanyard.v1.CertificateResponse;
import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks what the server issued before the workload uses it: the certificate is for the key made
 * here, names exactly one SPIFFE ID (the expected one on renewal) in the server's own trust domain, and
 * chains to trusted roots.
 */
final class IssuedSvidCheck {

    private static final int URI_SAN = 6;

    private IssuedSvidCheck() {
    }

    /**
     * @param trustedRoots the roots the leaf must chain to
     * @param serverTrustDomain the trust domain of the Lanyard server that issued it (its own SVID's)
     * @param expectedSpiffeId the identity being renewed, or null at bootstrap
     */
    static Svid check(CertificateResponse response, KeyPair keys, Collection<X509Certificate> trustedRoots,
            String serverTrustDomain, String expectedSpiffeId, Instant now) throws CredentialException {
        X509Certificate leaf = parse(response.getCertificate());
        List<X509Certificate> chain = new ArrayList<>();
        for (ByteString der : response.getChainList()) {
            chain.add(parse(der));
        }
        List<X509Certificate> bundle = new ArrayList<>();
        for (ByteString der : response.getTrustBundleList()) {
            bundle.add(parse(der));
        }
        if (bundle.isEmpty()) {
            throw new CredentialException("the server sent no trust bundle with the certificate");
        }
        if (!Arrays.equals(leaf.getPublicKey().getEncoded(), keys.getPublic().getEncoded())) {
            throw new CredentialException("the server issued a certificate for another key than the one requested");
        }
        String spiffeId = spiffeId(leaf);
        if (!spiffeId.equals(response.getSpiffeId())) {
            throw new CredentialException("the certificate names " + spiffeId + " but the response says "
                    + response.getSpiffeId());
        }
        // Roots may vouch for several trust domains; a server issues only in its own.
        if (!trustDomainOf(spiffeId).equals(serverTrustDomain)) {
            throw new CredentialException("the Lanyard server of trust domain " + serverTrustDomain
                    + " issued a certificate for " + spiffeId + ", which is outside its trust domain; it is not used");
        }
        if (expectedSpiffeId != null && !expectedSpiffeId.equals(spiffeId)) {
            throw new CredentialException("renewal changed the identity from " + expectedSpiffeId + " to " + spiffeId
                    + "; keeping the current certificate");
        }
        validatePath(leaf, chain, trustedRoots, now);
        return new Svid(spiffeId, keys.getPrivate(), leaf, chain, bundle);
    }

    /** The one spiffe:// URI SAN of {@code leaf}; refused when it has none or several. */
    static String spiffeId(X509Certificate leaf) throws CredentialException {
        List<String> uris = new ArrayList<>();
        try {
            Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (((Integer) san.get(0)) == URI_SAN) {
                        uris.add((String) san.get(1));
                    }
                }
            }
        } catch (GeneralSecurityException e) {
            throw new CredentialException("the certificate's subject alternative names do not parse");
        }
        if (uris.size() != 1 || !uris.get(0).startsWith("spiffe://")) {
            throw new CredentialException("the certificate is not an X.509-SVID: it must carry exactly one "
                    + "spiffe:// URI SAN, it has " + uris);
        }
        return uris.get(0);
    }

    /** The trust domain of a SPIFFE ID {@link #spiffeId} accepted: its host. */
    static String trustDomainOf(String spiffeId) {
        return java.net.URI.create(spiffeId).getHost();
    }

    private static void validatePath(X509Certificate leaf, List<X509Certificate> chain,
            Collection<X509Certificate> roots, Instant now) throws CredentialException {
        try {
            List<X509Certificate> path = new ArrayList<>();
            path.add(leaf);
            path.addAll(chain);
            Set<TrustAnchor> anchors = new HashSet<>();
            for (X509Certificate root : roots) {
                anchors.add(new TrustAnchor(root, null));
            }
            PKIXParameters parameters = new PKIXParameters(anchors);
            parameters.setRevocationEnabled(false);
            parameters.setDate(Date.from(now));
            CertPathValidator.getInstance("PKIX").validate(
                    CertificateFactory.getInstance("X.509").generateCertPath(path), parameters);
        } catch (GeneralSecurityException e) {
            throw new CredentialException("the issued certificate does not chain to the trusted roots: "
                    + e.getMessage());
        }
    }

    private static X509Certificate parse(ByteString der) throws CredentialException {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der.toByteArray()));
        } catch (GeneralSecurityException e) {
            throw new CredentialException("the server's response holds a certificate that does not parse");
        }
    }
}
