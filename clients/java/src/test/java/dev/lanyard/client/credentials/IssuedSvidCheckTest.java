package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.lanyard.client.testing.TestPki;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.v1.CertificateResponse;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class IssuedSvidCheckTest {

    private static final String ID = "spiffe://lanyard.local/ns/shop/sa/frontend";

    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T12:00:00Z"));
    private final TestPki pki = new TestPki(clock, "lanyard.local");
    private final TestPki.Held held = pki.leaf(ID);
    private final KeyPair keys = new KeyPair(held.leaf().getPublicKey(), held.privateKey());

    private static ByteString der(X509Certificate certificate) throws Exception {
        return ByteString.copyFrom(certificate.getEncoded());
    }

    private CertificateResponse.Builder response(TestPki.Held issued) throws Exception {
        return CertificateResponse.newBuilder()
                .setSpiffeId(ID)
                .setCertificate(der(issued.leaf()))
                .addChain(der(issued.intermediate()))
                .addTrustBundle(der(pki.root()))
                .setSerialNumber(issued.leaf().getSerialNumber().toString(16));
    }

    @Test
    void acceptsACertificateForOurKeyThatChainsToTheRoots() throws Exception {
        Svid svid = IssuedSvidCheck.check(response(held).build(), keys, List.of(pki.root()), "lanyard.local", ID,
                clock.instant());

        assertThat(svid.spiffeId()).isEqualTo(ID);
        assertThat(svid.leaf()).isEqualTo(held.leaf());
        assertThat(svid.chain()).containsExactly(held.intermediate());
        assertThat(svid.bundle()).containsExactly(pki.root());
        assertThat(svid.privateKey()).isEqualTo(held.privateKey());
    }

    @Test
    void refusesACertificateForAnotherKey() throws Exception {
        CertificateResponse other = response(pki.leaf(ID)).build();

        assertThatThrownBy(() -> IssuedSvidCheck.check(other, keys, List.of(pki.root()), "lanyard.local", null,
                clock.instant()))
                .hasMessage("the server issued a certificate for another key than the one requested");
    }

    @Test
    void refusesAnIdentityOtherThanTheOneRenewedOrAnnounced() throws Exception {
        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).build(), keys, List.of(pki.root()),
                "lanyard.local", "spiffe://lanyard.local/ns/shop/sa/other", clock.instant()))
                .hasMessage("renewal changed the identity from spiffe://lanyard.local/ns/shop/sa/other to " + ID
                        + "; keeping the current certificate");
        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).setSpiffeId("spiffe://lanyard.local/x").build(),
                keys, List.of(pki.root()), "lanyard.local", null, clock.instant()))
                .hasMessage("the certificate names " + ID + " but the response says spiffe://lanyard.local/x");
    }

    /** Roots may vouch for several trust domains: a server of one issues nothing for another. */
    @Test
    void refusesACertificateOutsideTheServersTrustDomain() throws Exception {
        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).build(), keys, List.of(pki.root()),
                "other.test", null, clock.instant()))
                .hasMessage("the Lanyard server of trust domain other.test issued a certificate for " + ID
                        + ", which is outside its trust domain; it is not used");
    }

    @Test
    void refusesACertificateThatIsNotAnSvid() throws Exception {
        TestPki.Held web = pki.leaf("https://lanyard.local/frontend");
        KeyPair webKeys = new KeyPair(web.leaf().getPublicKey(), web.privateKey());

        assertThatThrownBy(() -> IssuedSvidCheck.check(response(web).build(), webKeys, List.of(pki.root()),
                "lanyard.local", null, clock.instant()))
                .hasMessage("the certificate is not an X.509-SVID: it must carry exactly one spiffe:// URI SAN, "
                        + "it has [https://lanyard.local/frontend]");
    }

    @Test
    void refusesACertificateThatDoesNotChainToTheTrustedRoots() throws Exception {
        X509Certificate stranger = new TestPki(clock, "lanyard.local").root();

        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).build(), keys, List.of(stranger),
                "lanyard.local", null, clock.instant()))
                .hasMessageStartingWith("the issued certificate does not chain to the trusted roots: ");
        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).build(), keys, List.of(pki.root()),
                "lanyard.local", null, clock.instant().plus(Duration.ofHours(2))))
                .hasMessageStartingWith("the issued certificate does not chain to the trusted roots: ");
    }

    @Test
    void refusesAResponseWithoutBundleOrWithGarbage() throws Exception {
        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).clearTrustBundle().build(), keys,
                List.of(pki.root()), "lanyard.local", null, clock.instant()))
                .hasMessage("the server sent no trust bundle with the certificate");
        assertThatThrownBy(() -> IssuedSvidCheck.check(response(held).setCertificate(ByteString.copyFromUtf8("x"))
                .build(), keys, List.of(pki.root()), "lanyard.local", null, clock.instant()))
                .hasMessage("the server's response holds a certificate that does not parse");
    }
}
