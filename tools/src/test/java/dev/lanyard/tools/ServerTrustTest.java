package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Optional;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

class ServerTrustTest {

    private final KeyPair rootKeys = ecP256();
    private final X509Certificate root = certificate(new X500Name("CN=root"), rootKeys);

    @Test
    void theServerIsExactlySpiffeTrustDomainLanyardServer() throws Exception {
        for (Optional<String> td : List.of(Optional.<String>empty(), Optional.of("lanyard.local"))) {
            trust(td).checkServerTrusted(chain("spiffe://lanyard.local/lanyard/server"), "ECDHE_ECDSA");
        }
    }

    /**
     * A workload may be registered at a path that merely ends in /lanyard/server (only /lanyard/... is reserved):
     * it is not the server, whether or not the trust domain is known (cert issue knows none).
     */
    @Test
    void aWorkloadWhosePathEndsInLanyardServerIsNotTheServer() throws Exception {
        for (String id : List.of("spiffe://lanyard.local/ns/evil/lanyard/server", "spiffe://lanyard.local/x/lanyard/server",
                "spiffe://lanyard.local/lanyard/server/x")) {
            assertThatThrownBy(() -> trust(Optional.empty()).checkServerTrusted(chain(id), "ECDHE_ECDSA"))
                    .isInstanceOf(ServerTrust.Refused.class)
                    .hasMessage("the server's certificate names " + id
                            + ", not spiffe://<trust domain>/lanyard/server: this is not the Lanyard server");
            assertThatThrownBy(() -> trust(Optional.of("lanyard.local")).checkServerTrusted(chain(id), "ECDHE_ECDSA"))
                    .isInstanceOf(ServerTrust.Refused.class)
                    .hasMessage("the server's certificate names " + id
                            + ", not spiffe://lanyard.local/lanyard/server: this is not the Lanyard server");
        }
    }

    @Test
    void anotherTrustDomainsServerIsRefusedWhenTheTrustDomainIsKnown() throws Exception {
        assertThatThrownBy(() -> trust(Optional.of("lanyard.local"))
                .checkServerTrusted(chain("spiffe://other.test/lanyard/server"), "ECDHE_ECDSA"))
                .isInstanceOf(ServerTrust.Refused.class)
                .hasMessageContaining("not spiffe://lanyard.local/lanyard/server");
        assertThat(ServerTrust.isServerId("spiffe://other.test/lanyard/server", Optional.empty())).isTrue();
        assertThat(ServerTrust.isServerId("spiffe://Other.test/lanyard/server", Optional.empty()))
                .as("not a valid SPIFFE ID").isFalse();
    }

    /**
     * A certificate naming the server's ID among other URIs is not an X.509-SVID (exactly one URI SAN), so not
     * the server's, whether the other URI is a SPIFFE ID or not, and whether or not the trust domain is known;
     * the words are trust_test.go's (Go command line).
     */
    @Test
    void aCertificateWithTwoUrisIsNotTheServer() throws Exception {
        for (List<String> ids : List.of(
                List.of("spiffe://lanyard.local/lanyard/server", "spiffe://lanyard.local/ns/shop/sa/api"),
                List.of("spiffe://lanyard.local/ns/shop/sa/api", "spiffe://lanyard.local/lanyard/server"),
                List.of("spiffe://lanyard.local/lanyard/server", "https://lanyard.local/"))) {
            X509Certificate[] chain = {certificate(new X500Name("CN=leaf"), ecP256(), ids.toArray(String[]::new))};
            for (Optional<String> td : List.of(Optional.<String>empty(), Optional.of("lanyard.local"))) {
                assertThatThrownBy(() -> trust(td).checkServerTrusted(chain, "ECDHE_ECDSA"))
                        .as("%s, trust domain %s", ids, td)
                        .isInstanceOf(ServerTrust.Refused.class)
                        .hasMessage("the server's certificate names 2 URIs, where an X.509-SVID names exactly one:"
                                + " this is not the Lanyard server");
            }
        }
    }

    private ServerTrust trust(Optional<String> trustDomain) throws Exception {
        return new ServerTrust(List.of(root), trustDomain, "the roots");
    }

    private X509Certificate[] chain(String spiffeId) {
        return new X509Certificate[] {certificate(new X500Name("CN=leaf"), ecP256(), spiffeId)};
    }

    /** The root (self-signed CA) when {@code uris} is empty, else a server leaf naming them, signed by the root. */
    private X509Certificate certificate(X500Name subject, KeyPair keys, String... uris) {
        try {
            Date now = new Date();
            boolean root = uris.length == 0;
            var builder = new JcaX509v3CertificateBuilder(root ? subject : new X500Name("CN=root"),
                    BigInteger.valueOf(System.nanoTime()), new Date(now.getTime() - 60_000),
                    new Date(now.getTime() + 3_600_000), subject, keys.getPublic());
            if (root) {
                builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign));
            } else {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
                builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
                builder.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(Arrays.stream(uris)
                                .map(uri -> new GeneralName(GeneralName.uniformResourceIdentifier, uri))
                                .toArray(GeneralName[]::new)));
            }
            return new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(rootKeys.getPrivate())));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static KeyPair ecP256() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            return generator.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
