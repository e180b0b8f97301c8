package dev.lanyard.tools;

import dev.lanyard.client.credentials.ServerIdTrustManager;
import dev.lanyard.spiffe.SpiffeId;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Trusts a Lanyard server the way its workloads do: by its SPIFFE ID ({@code spiffe://TD/lanyard/server})
 * on a chain to the trusted roots, not by the host name it was reached at, so 127.0.0.1, ::1 or any
 * name that reaches it works (the host name is deliberately not checked: ServerIdTrustManager). Each
 * refusal says, in words, which of the two checks failed, as the Go command line does (trust.go).
 */
final class ServerTrust extends ServerIdTrustManager {

    /** Why the server was not trusted, in a sentence a person can act on. */
    static final class Refused extends CertificateException {
        Refused(String message, Throwable cause) {
            super(message, cause);
        }
    }

    static final String SERVER_PATH = "/lanyard/server";

    private final X509TrustManager pkix;
    private final Optional<String> trustDomain;
    private final String rootsSource;

    /**
     * @param trustDomain the server's trust domain when known (from the client's own credential); empty
     *                    accepts a Lanyard server of any trust domain the roots vouch for
     * @param rootsSource where the roots came from, for messages ("the pinned root sha256:...", "bundle x.pem")
     */
    ServerTrust(List<X509Certificate> roots, Optional<String> trustDomain, String rootsSource)
            throws GeneralSecurityException {
        super("the command line never accepts client certificates");
        this.pkix = pkix(roots);
        this.trustDomain = trustDomain;
        this.rootsSource = rootsSource;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        try {
            pkix.checkServerTrusted(chain, authType);
        } catch (CertificateException e) {
            throw new Refused("the server's certificate is not signed by " + rootsSource + " (it was issued by "
                    + (chain.length == 0 ? "nobody" : chain[chain.length - 1].getIssuerX500Principal().getName())
                    + ")", e);
        }
        // An X.509-SVID carries exactly one URI SAN (as LanyardServerTrust and the Go and Rust clients
        // require): a certificate naming the server's ID among others is not the server's SVID.
        int uris = uriCount(chain[0]);
        if (uris > 1) {
            throw new Refused("the server's certificate names " + uris
                    + " URIs, where an X.509-SVID names exactly one: this is not the Lanyard server", null);
        }
        List<String> ids = spiffeIds(chain[0]);
        boolean lanyard = ids.stream().anyMatch(id -> isServerId(id, trustDomain));
        if (!lanyard) {
            String expected = "spiffe://" + trustDomain.orElse("<trust domain>") + SERVER_PATH;
            throw new Refused("the server's certificate names " + (ids.isEmpty() ? "no SPIFFE ID" : String.join(", ", ids))
                    + ", not " + expected + ": this is not the Lanyard server", null);
        }
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return pkix.getAcceptedIssuers();
    }

    /**
     * Whether {@code id} is exactly {@code spiffe://TD/lanyard/server}, of {@code trustDomain} when known. The
     * path must be exactly {@value #SERVER_PATH}: a workload may be registered as
     * {@code spiffe://TD/ns/x/lanyard/server} (only paths starting {@code /lanyard/} are reserved) and must not
     * pass for the server.
     */
    static boolean isServerId(String id, Optional<String> trustDomain) {
        SpiffeId parsed;
        try {
            parsed = SpiffeId.parse(id);
        } catch (IllegalArgumentException e) {
            return false;
        }
        return parsed.path().equals(SERVER_PATH) && trustDomain.map(parsed::isMemberOf).orElse(true);
    }

    static List<String> spiffeIds(X509Certificate certificate) {
        List<String> ids = new ArrayList<>();
        try {
            Collection<List<?>> sans = certificate.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if ((Integer) san.get(0) == 6 && String.valueOf(san.get(1)).startsWith("spiffe://")) {
                        ids.add(String.valueOf(san.get(1)));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no readable SANs: no SPIFFE ID
        }
        return ids;
    }

    /** How many URI SANs, of any scheme, {@code certificate} has; 0 if they do not parse. */
    static int uriCount(X509Certificate certificate) {
        try {
            Collection<List<?>> sans = certificate.getSubjectAlternativeNames();
            return sans == null ? 0 : (int) sans.stream().filter(san -> (Integer) san.get(0) == 6).count();
        } catch (CertificateParsingException e) {
            return 0;
        }
    }

    /** The trust domain of a credential's own SPIFFE ID, if it has one. */
    static Optional<String> trustDomainOf(X509Certificate leaf) {
        return spiffeIds(leaf).stream().findFirst()
                .map(id -> id.substring("spiffe://".length()))
                .map(rest -> rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest);
    }

    private static X509TrustManager pkix(List<X509Certificate> roots) throws GeneralSecurityException {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try {
            store.load(null, null);
        } catch (java.io.IOException e) {
            throw new GeneralSecurityException(e);
        }
        for (int i = 0; i < roots.size(); i++) {
            store.setCertificateEntry("root-" + i, roots.get(i));
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
        factory.init(store);
        return (X509TrustManager) factory.getTrustManagers()[0];
    }
}
