package dev.lanyard.federation;

import dev.lanyard.spiffe.SpiffeId;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Authenticates an {@code https_spiffe} bundle endpoint: its chain must lead to a root of the foreign
 * trust domain's bundle held now, and its leaf must carry exactly the expected SPIFFE ID. Host names
 * play no part (the SPIFFE ID is the identity), so no endpoint identification is done.
 */
final class SpiffeEndpointTrust extends X509ExtendedTrustManager {

    private final List<X509Certificate> roots;
    private final SpiffeId expected;

    SpiffeEndpointTrust(List<X509Certificate> roots, SpiffeId expected) {
        this.roots = List.copyOf(roots);
        this.expected = expected;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the bundle endpoint presented no certificate");
        }
        try {
            Set<TrustAnchor> anchors = new HashSet<>();
            roots.forEach(root -> anchors.add(new TrustAnchor(root, null)));
            PKIXParameters parameters = new PKIXParameters(anchors);
            parameters.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(
                    CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(chain)), parameters);
        } catch (GeneralSecurityException e) {
            throw new CertificateException("the bundle endpoint's certificate does not chain to the bundle of "
                    + expected.trustDomain() + ": " + e.getMessage(), e);
        }
        List<String> uris = uriSans(chain[0]);
        if (uris.size() != 1 || !uris.get(0).equals(expected.toString())) {
            throw new CertificateException("the bundle endpoint is " + uris + ", not " + expected);
        }
    }

    private static List<String> uriSans(X509Certificate leaf) throws CertificateParsingException {
        Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
        if (sans == null) {
            return List.of();
        }
        return sans.stream().filter(san -> Integer.valueOf(6).equals(san.get(0))).map(san -> (String) san.get(1)).toList();
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("a bundle fetch is a client only");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return roots.toArray(new X509Certificate[0]);
    }
}
