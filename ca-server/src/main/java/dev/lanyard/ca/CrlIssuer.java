package dev.lanyard.ca;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.CRLNumber;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.X509v2CRLBuilder;

/** Signs X.509 v2 CRLs (RFC 5280 section 5) with an issuing CA's custody signer. */
public final class CrlIssuer {

    /** One revoked certificate: its serial, when it was revoked, and the RFC 5280 reason code. */
    public record Entry(BigInteger serial, Instant revokedAt, int reasonCode) {
    }

    public CrlIssuer() {
    }

    /**
     * A DER CRL for the certificates {@code ca} issued: CRL number and authority key identifier
     * (both required by RFC 5280), a reason code on every entry that has one other than unspecified.
     */
    public byte[] issue(CaCertificate ca, long crlNumber, Instant thisUpdate, Instant nextUpdate, List<Entry> entries) {
        X500Name issuer = X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded());
        X509v2CRLBuilder builder = new X509v2CRLBuilder(issuer, Date.from(thisUpdate));
        builder.setNextUpdate(Date.from(nextUpdate));
        for (Entry entry : entries) {
            // Bouncy Castle leaves the reason out for 0, as RFC 5280 5.3.1 prefers for unspecified.
            builder.addCRLEntry(entry.serial(), Date.from(entry.revokedAt()), entry.reasonCode());
        }
        try {
            builder.addExtension(Extension.cRLNumber, false, new CRLNumber(BigInteger.valueOf(crlNumber)));
            builder.addExtension(Extension.authorityKeyIdentifier, false,
                    new AuthorityKeyIdentifier(HexFormat.of().parseHex(ca.keyId())));
            return builder.build(new SignatureContentSigner(ca.signer())).getEncoded();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode a CRL", e);
        }
    }
}
