package dev.lanyard.bundle;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.federation.ForeignBundle;
import dev.lanyard.server.TrustAuthorities;
import dev.lanyard.store.Database;
import dev.lanyard.store.JdbcBundleSequences;
import dev.lanyard.testing.WebPki;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the served trust bundle makes of the federated bundles it is given. */
class TrustBundlesTest {

    @TempDir
    Path dir;

    @Test
    void aChangedForeignBundleWhoseJsonHasTheSameStringHashIsServed() throws Exception {
        X509Certificate oldRoot = WebPki.selfSigned("old.b.test").certificate();
        X509Certificate newRoot = WebPki.selfSigned("new.b.test").certificate();
        // Two documents of b.test with different roots and equal String.hashCode: an ignored member
        // "p" is varied until they collide (a 32-bit hash: a birthday search of a few 10^4 tries).
        String[] documents = collidingDocuments(document(oldRoot), document(newRoot));
        assertThat(documents[0].hashCode()).isEqualTo(documents[1].hashCode());
        assertThat(documents[0]).isNotEqualTo(documents[1]);

        AtomicReference<List<ForeignBundle>> foreign = new AtomicReference<>(
                List.of(ForeignBundle.parse("b.test", documents[0])));
        try (Database store = Database.h2File(dir.resolve("store"))) {
            TrustBundles bundles = new TrustBundles("a.test", new TrustAuthorities(List.of()), List::of,
                    Duration.ofMinutes(5), new JdbcBundleSequences(store.dataSource()), Clock.systemUTC());
            servesTheChangedBundle(bundles, foreign, documents[1], oldRoot, newRoot);
        }
    }

    private static void servesTheChangedBundle(TrustBundles bundles, AtomicReference<List<ForeignBundle>> foreign,
            String changed, X509Certificate oldRoot, X509Certificate newRoot) throws Exception {
        bundles.federateWith(foreign::get);
        assertThat(bundles.current().proto().getFederatedBundles(0).getX509Authorities(0).toByteArray())
                .isEqualTo(oldRoot.getEncoded());

        foreign.set(List.of(ForeignBundle.parse("b.test", changed)));
        bundles.refresh();
        assertThat(bundles.current().proto().getFederatedBundles(0).getX509AuthoritiesList())
                .as("workloads are given b.test's new root").singleElement()
                .satisfies(root -> assertThat(root.toByteArray()).isEqualTo(newRoot.getEncoded()));
    }

    /**
     * {@code first} and {@code second}, each with a member "p" of random letters added, such that the
     * two hash alike: a birthday search over 2^17 values of each (a few 10^4 tries expected).
     */
    private static String[] collidingDocuments(String first, String second) {
        java.util.Random random = new java.util.Random(1);
        Map<Integer, String> firstByHash = new HashMap<>();
        for (int i = 0; i < 1 << 17; i++) {
            String p = letters(random);
            firstByHash.put(hashWithP(first, p), p);
        }
        for (int tries = 0; tries < 1 << 22; tries++) {
            String p = letters(random);
            String q = firstByHash.get(hashWithP(second, p));
            if (q != null) {
                return new String[] {withP(first, q), withP(second, p)};
            }
        }
        throw new AssertionError("no colliding pair found");
    }

    private static String letters(java.util.Random random) {
        char[] letters = new char[10];
        for (int i = 0; i < letters.length; i++) {
            letters[i] = (char) ('a' + random.nextInt(26));
        }
        return new String(letters);
    }

    /** {@code withP(document, p).hashCode()} without building it: h(a + b) = h(a) * 31^|b| + h(b). */
    private static int hashWithP(String document, String p) {
        String rest = document.substring(1);
        int power = 1;
        for (int k = 0; k < rest.length(); k++) {
            power *= 31;
        }
        return withP("{", p).hashCode() * power + rest.hashCode();
    }

    private static String withP(String document, String p) {
        return "{\"p\":\"" + p + "\"," + document.substring(1);
    }

    private static String document(X509Certificate root) throws Exception {
        return new com.nimbusds.jose.jwk.JWKSet(new com.nimbusds.jose.jwk.ECKey.Builder(
                com.nimbusds.jose.jwk.ECKey.parse(root)).keyUse(new com.nimbusds.jose.jwk.KeyUse("x509-svid"))
                .x509CertChain(List.of(com.nimbusds.jose.util.Base64.encode(root.getEncoded()))).build())
                .toString(true);
    }
}
