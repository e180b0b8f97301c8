package dev.lanyard.ca;

import dev.lanyard.spiffe.SpiffeId;
import java.math.BigInteger;
import java.net.URI;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1IA5String;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Certificate;
import org.bouncycastle.asn1.x509.CRLDistPoint;
import org.bouncycastle.asn1.x509.DistributionPoint;
import org.bouncycastle.asn1.x509.DistributionPointName;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x509.TBSCertificate;
import org.bouncycastle.cert.X509v3CertificateBuilder;

/**
 * Signs X.509-SVIDs with the issuing intermediate, to the profile of the SPIFFE X.509-SVID spec
 * and DESIGN.md: one URI SAN (the SPIFFE ID) plus allowed DNS SANs, CA:false, digitalSignature
 * (and keyEncipherment for RSA), serverAuth + clientAuth, SKI/AKI, the CRL distribution point,
 * a 128-bit random serial, notBefore backdated, notAfter never past the issuer's.
 */
public final class CertificateAuthority {

    /**
     * Backdating absorbs clock skew between us and relying parties; a few seconds is enough. A
     * certificate shorter than ten times this is backdated a tenth of its life instead: clients renew
     * at half-life counted from notBefore, so a full backdate would make a 10 s certificate due the
     * moment it is issued and its holder renew without pause.
     */
    public static final Duration BACKDATE = Duration.ofSeconds(10);

    private static final X500Name SUBJECT = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "Lanyard").build();
    private static final Pattern IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");

    private final IssuingCa ca;
    private final Clock clock;
    private final SerialNumbers serials;
    private final X500Name issuerName;
    private final AuthorityKeyIdentifier authorityKeyId;
    private final CRLDistPoint crlDistributionPoint;
    private final Instant issuerNotAfter;

    public CertificateAuthority(IssuingCa ca, Clock clock, SerialNumbers serials,
            URI crlDistributionPoint) {
        this.ca = ca;
        this.clock = clock;
        this.serials = serials;
        X509Certificate issuer = ca.intermediate().certificate();
        this.issuerName = X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
        this.authorityKeyId = new AuthorityKeyIdentifier(java.util.HexFormat.of().parseHex(ca.intermediate().keyId()));
        this.crlDistributionPoint = new CRLDistPoint(new DistributionPoint[] {new DistributionPoint(
                new DistributionPointName(new GeneralNames(
                        new GeneralName(GeneralName.uniformResourceIdentifier, crlDistributionPoint.toString()))),
                null, null)});
        this.issuerNotAfter = issuer.getNotAfter().toInstant();
    }

    public IssuingCa ca() {
        return ca;
    }

    static Duration backdate(Duration lifetime) {
        Duration tenth = lifetime.dividedBy(10);
        return tenth.compareTo(BACKDATE) < 0 ? tenth : BACKDATE;
    }

    public IssuedSvid issue(PublicKey subjectKey, SpiffeId id, List<String> dnsNames, Duration ttl) {
        Instant now = clock.instant();
        Instant notAfter = now.plus(ttl);
        if (notAfter.isAfter(issuerNotAfter)) {
            notAfter = issuerNotAfter;
        }
        if (!notAfter.isAfter(now)) {
            throw new IllegalStateException("the issuing CA has expired; it cannot sign anything");
        }
        BigInteger serial = serials.next();
        boolean rsa = subjectKey.getAlgorithm().equals("RSA");
        Instant notBefore = now.minus(backdate(Duration.between(now, notAfter))).truncatedTo(ChronoUnit.SECONDS);
        notAfter = notAfter.truncatedTo(ChronoUnit.SECONDS);
        try {
            X509v3CertificateBuilder builder = new X509v3CertificateBuilder(issuerName, serial,
                    CertificateTimes.time(notBefore), CertificateTimes.time(notAfter), SUBJECT,
                    SubjectPublicKeyInfo.getInstance(subjectKey.getEncoded()));
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.keyUsage, true, new KeyUsage(
                    rsa ? KeyUsage.digitalSignature | KeyUsage.keyEncipherment : KeyUsage.digitalSignature));
            builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            builder.addExtension(Extension.subjectKeyIdentifier, false, X509.subjectKeyIdentifier(subjectKey));
            builder.addExtension(Extension.authorityKeyIdentifier, false, authorityKeyId);
            builder.addExtension(Extension.subjectAlternativeName, false, sans(id, dnsNames));
            builder.addExtension(Extension.cRLDistributionPoints, false, crlDistributionPoint);
            Certificate signed = builder.build(new SignatureContentSigner(ca.intermediate().signer())).toASN1Structure();
            validate(signed.getTBSCertificate(), id, dnsNames, notBefore, notAfter);
            byte[] der = signed.getEncoded(ASN1Encoding.DER);
            return new IssuedSvid(id, der, notBefore, notAfter, ca.chain(), serial, ca.intermediate().keyId());
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot build an X.509-SVID", e);
        }
    }

    static boolean ipLiteral(String name) {
        return name.contains(":") || IPV4.matcher(name).matches();
    }

    private static GeneralNames sans(SpiffeId id, List<String> dnsNames) {
        List<GeneralName> names = new ArrayList<>();
        names.add(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString()));
        for (String dns : dnsNames) {
            // Only the server's own names may be IP literals (registrations take DNS names only).
            names.add(new GeneralName(ipLiteral(dns) ? GeneralName.iPAddress : GeneralName.dNSName, dns));
        }
        return new GeneralNames(names.toArray(GeneralName[]::new));
    }

    /**
     * Checks the profile of what was signed (the structure the signature covers, as Bouncy Castle
     * encoded it), so a builder mistake can never leave the server. Neither the DER is parsed again
     * (that cost a tenth of a renewal) nor the signature re-verified: for ECDSA that would double the
     * cost of every issuance to guard against a fault the signer does not have.
     */
    private void validate(TBSCertificate tbs, SpiffeId id, List<String> dnsNames, Instant notBefore, Instant notAfter) {
        BasicConstraints constraints = BasicConstraints.fromExtensions(tbs.getExtensions());
        GeneralName[] sans = GeneralNames.fromExtensions(tbs.getExtensions(), Extension.subjectAlternativeName)
                .getNames();
        List<String> uris = names(sans, GeneralName.uniformResourceIdentifier);
        List<String> dns = names(sans, GeneralName.dNSName);
        long ips = Arrays.stream(sans).filter(san -> san.getTagNo() == GeneralName.iPAddress).count();
        boolean ok = constraints != null && !constraints.isCA()
                && uris.equals(List.of(id.toString()))
                && dns.equals(dnsNames.stream().filter(n -> !ipLiteral(n)).toList())
                && ips == dnsNames.stream().filter(CertificateAuthority::ipLiteral).count()
                && tbs.getStartDate().equals(CertificateTimes.time(notBefore))
                && tbs.getEndDate().equals(CertificateTimes.time(notAfter))
                && !notAfter.isAfter(issuerNotAfter)
                && tbs.getIssuer().equals(issuerName);
        if (!ok) {
            throw new IllegalStateException("a signed certificate does not match the X.509-SVID profile");
        }
    }

    private static List<String> names(GeneralName[] sans, int tag) {
        return Arrays.stream(sans).filter(san -> san.getTagNo() == tag)
                .map(san -> ASN1IA5String.getInstance(san.getName()).getString()).toList();
    }
}
