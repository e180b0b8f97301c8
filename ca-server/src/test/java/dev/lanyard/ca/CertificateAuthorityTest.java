package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.spiffe.SpiffeId;
import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.testing.TestCa;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CertificateAuthorityTest {

    private static final Instant NOW = Instant.parse("2026-11-01T12:00:00Z");
    private static final SpiffeId ID = SpiffeId.parse("spiffe://example.org/ns/web/sa/frontend");

    private final MutableClock clock = new MutableClock(NOW);
    private final IssuingCa ca = TestCa.create("example.org", clock);
    private final CertificateAuthority authority = TestCa.authority(ca, clock);

    @Test
    void leafFollowsTheX509SvidProfileExactly() throws Exception {
        IssuedSvid svid = authority.issue(Csrs.ecP256().getPublic(), ID, List.of("web.example.org"), Duration.ofHours(1));
        X509Certificate leaf = svid.certificate();

        assertThat(leaf.getVersion()).isEqualTo(3);
        assertThat(leaf.getSubjectX500Principal().getName()).isEqualTo("O=Lanyard");
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, ID.toString()),
                List.of(2, "web.example.org"));
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getCriticalExtensionOIDs()).containsExactlyInAnyOrder("2.5.29.19", "2.5.29.15");
        assertThat(leaf.getKeyUsage()).containsExactly(true, false, false, false, false, false, false, false, false);
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(leaf.getExtensionValue("2.5.29.14")).isNotNull();
        assertThat(X509.keyId(leaf)).isNotEqualTo(ca.intermediate().keyId());
        assertThat(new String(leaf.getExtensionValue("2.5.29.35"), StandardCharsets.ISO_8859_1))
                .contains(new String(java.util.HexFormat.of().parseHex(ca.intermediate().keyId()),
                        StandardCharsets.ISO_8859_1));
        assertThat(new String(leaf.getExtensionValue("2.5.29.31"), StandardCharsets.ISO_8859_1))
                .contains("http://localhost:8080/crl");
        assertThat(leaf.getNotBefore().toInstant()).isEqualTo(NOW.minusSeconds(10));
        assertThat(leaf.getNotAfter().toInstant()).isEqualTo(NOW.plus(Duration.ofHours(1)));
        assertThat(leaf.getSigAlgName()).isEqualTo("SHA256withECDSA");
        leaf.verify(ca.intermediate().certificate().getPublicKey());
        assertThat(svid.serialHex()).isEqualTo(leaf.getSerialNumber().toString(16));
        assertThat(svid.chain()).containsExactly(ca.intermediate().certificate());
        assertThat(svid.issuerKeyId()).isEqualTo(ca.intermediate().keyId());
        // What the store records and the response carries, without parsing the certificate again.
        assertThat(svid.der()).isEqualTo(leaf.getEncoded());
        assertThat(svid.notBefore()).isEqualTo(leaf.getNotBefore().toInstant());
        assertThat(svid.notAfter()).isEqualTo(leaf.getNotAfter().toInstant());
        assertThat(svid.sha256Fingerprint()).isEqualTo(dev.lanyard.crypto.Pem.sha256Fingerprint(leaf));
    }

    @Test
    void validityTimesAreEncodedAsBouncyCastleEncodesThemOnBothSidesOf2050() throws Exception {
        for (String time : List.of("1950-01-01T00:00:00Z", "2026-12-01T10:11:12Z", "2049-12-31T23:59:59Z",
                "2050-01-01T00:00:00Z", "2100-06-30T12:00:00Z", "1949-12-31T23:59:59Z")) {
            Instant instant = Instant.parse(time);
            assertThat(CertificateTimes.time(instant).getEncoded())
                    .as(time).isEqualTo(new org.bouncycastle.asn1.x509.Time(java.util.Date.from(instant)).getEncoded());
            assertThat(CertificateTimes.time(instant).getDate().toInstant()).as(time).isEqualTo(instant);
        }
    }

    @Test
    void subSecondClockReadingsAreCutToTheSecondTheCertificateCarries() throws Exception {
        clock.set(NOW.plusMillis(999));
        IssuedSvid svid = authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofHours(1));

        assertThat(svid.notBefore()).isEqualTo(svid.certificate().getNotBefore().toInstant()).isEqualTo(NOW.minusSeconds(10));
        assertThat(svid.notAfter()).isEqualTo(svid.certificate().getNotAfter().toInstant())
                .isEqualTo(NOW.plus(Duration.ofHours(1)));
    }

    @Test
    void aShortCertificateIsBackdatedATenthOfItsLifeSoItsHalfLifeComesAfterItIsIssued() {
        X509Certificate tenSeconds = authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofSeconds(10))
                .certificate();
        X509Certificate twoMinutes = authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofMinutes(2))
                .certificate();

        assertThat(tenSeconds.getNotBefore().toInstant()).isEqualTo(NOW.minusSeconds(1));
        Instant halfLife = tenSeconds.getNotBefore().toInstant().plus(Duration.between(
                tenSeconds.getNotBefore().toInstant(), tenSeconds.getNotAfter().toInstant()).dividedBy(2));
        assertThat(halfLife).isEqualTo(NOW.plusMillis(4500));
        assertThat(twoMinutes.getNotBefore().toInstant()).isEqualTo(NOW.minusSeconds(10));
    }

    @Test
    void chainValidatesWithPkix() throws Exception {
        IssuedSvid svid = authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofHours(1));
        PKIXParameters parameters = new PKIXParameters(Set.of(new TrustAnchor(ca.root().certificate(), null)));
        parameters.setRevocationEnabled(false);
        parameters.setDate(Date.from(NOW));
        CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509")
                .generateCertPath(List.of(svid.certificate(), ca.intermediate().certificate())), parameters);
    }

    @Test
    void rsaKeysAlsoGetKeyEncipherment() {
        X509Certificate leaf = authority.issue(Csrs.generate("RSA", 2048).getPublic(), ID, List.of(),
                Duration.ofHours(1)).certificate();
        assertThat(leaf.getKeyUsage()).startsWith(true, false, true);
    }

    @Test
    void notAfterNeverPassesTheIssuer() {
        Instant issuerEnd = ca.intermediate().certificate().getNotAfter().toInstant();
        clock.set(issuerEnd.minus(Duration.ofMinutes(30)));
        X509Certificate leaf = authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofHours(1))
                .certificate();
        assertThat(leaf.getNotAfter().toInstant()).isEqualTo(issuerEnd);
        clock.set(issuerEnd.plusSeconds(1));
        assertThatThrownBy(() -> authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofHours(1)))
                .hasMessageContaining("expired");
    }

    @Test
    void serialsAreUnpredictableUniqueAndSortInTheOrderIssued() {
        List<BigInteger> issued = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            if (i % 2 == 0) {
                clock.set(clock.instant().plusMillis(1)); // two serials in each millisecond
            }
            BigInteger serial = authority.issue(Csrs.ecP256().getPublic(), ID, List.of(), Duration.ofMinutes(5))
                    .serial();
            assertThat(serial.signum()).isPositive();
            assertThat(serial.bitLength()).isLessThanOrEqualTo(128);
            issued.add(serial);
        }
        assertThat(new HashSet<>(issued)).hasSize(200);
        // The time is on top: a later millisecond sorts later, as a number and as the hex the store keeps.
        for (int i = 2; i < issued.size(); i += 2) {
            assertThat(issued.get(i)).isGreaterThan(issued.get(i - 1));
            assertThat(issued.get(i).toString(16)).hasSameSizeAs(issued.get(i - 1).toString(16))
                    .isGreaterThan(issued.get(i - 1).toString(16));
        }
        // 80 random bits below it: the two serials of one millisecond differ there, and so do all the others.
        BigInteger randomPart = BigInteger.ONE.shiftLeft(80).subtract(BigInteger.ONE);
        assertThat(issued.stream().map(s -> s.and(randomPart)).distinct().count()).isEqualTo(200);
        assertThat(issued.stream().mapToInt(s -> s.and(randomPart).bitLength()).max().orElse(0)).isGreaterThan(72);
    }

    @Test
    void caCertificatesAreCasWithTheTrustDomainId() throws Exception {
        X509Certificate root = ca.root().certificate();
        X509Certificate intermediate = ca.intermediate().certificate();
        assertThat(root.getBasicConstraints()).isEqualTo(Integer.MAX_VALUE);
        assertThat(intermediate.getBasicConstraints()).isZero();
        assertThat(intermediate.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(intermediate.getSubjectAlternativeNames()).containsExactly(List.of(6, "spiffe://example.org"));
        assertThat(intermediate.getNotAfter()).isBeforeOrEqualTo(root.getNotAfter());
        intermediate.verify(root.getPublicKey());
    }
}
