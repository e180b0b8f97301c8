package dev.lanyard.ca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.ca.CsrRejectedException.Reason;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.testing.Csrs;
import java.io.IOException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.GeneralSubtree;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.NameConstraints;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class CsrValidatorTest {

    private final CsrValidator validator = new CsrValidator(CryptoProviders.select(), CsrValidator.DEFAULT_MAX_BYTES);

    @Test
    void acceptsEveryAllowedKeyType() throws Exception {
        assertThat(validator.validate(Csrs.csr(Csrs.ecP256())).keyDescription()).isEqualTo("ECDSA P-256");
        assertThat(validator.validate(Csrs.csrSignedWith(ec("secp384r1"), "SHA384withECDSA")).keyDescription())
                .isEqualTo("ECDSA P-384");
        assertThat(validator.validate(Csrs.csrSignedWith(Csrs.generate("RSA", 2048), "SHA256withRSA"))
                .keyDescription()).isEqualTo("RSA 2048");
    }

    @Test
    void theValidatedKeyIsTheCsrKey() throws Exception {
        KeyPair keys = Csrs.ecP256();
        assertThat(validator.validate(Csrs.csr(keys)).publicKey().getEncoded()).isEqualTo(keys.getPublic().getEncoded());
    }

    @Test
    void extractsRequestedNames() throws Exception {
        ValidatedCsr csr = validator.validate(Csrs.csr(Csrs.ecP256(), "spiffe://example.org/a", "a.example.org"));
        assertThat(csr.requestedUris()).containsExactly("spiffe://example.org/a");
        assertThat(csr.requestedDnsNames()).containsExactly("a.example.org");
        assertThat(csr.commonName()).isEmpty();
    }

    @Test
    void refusesACsrAskingForCaPowers() throws Exception {
        assertRejected(Csrs.csrRequesting(Csrs.ecP256(), extension(Extension.basicConstraints, new BasicConstraints(true))),
                Reason.DISALLOWED_EXTENSION, "basic constraints CA:true");
        assertRejected(Csrs.csrRequesting(Csrs.ecP256(), extension(Extension.basicConstraints, new BasicConstraints(0))),
                Reason.DISALLOWED_EXTENSION, "basic constraints CA:true");
        assertRejected(Csrs.csrRequesting(Csrs.ecP256(), extension(Extension.keyUsage,
                new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyCertSign))), Reason.DISALLOWED_EXTENSION,
                "keyCertSign or cRLSign");
        assertRejected(Csrs.csrRequesting(Csrs.ecP256(), extension(Extension.keyUsage, new KeyUsage(KeyUsage.cRLSign))),
                Reason.DISALLOWED_EXTENSION, "keyCertSign or cRLSign");
        assertRejected(Csrs.csrRequesting(Csrs.ecP256(), extension(Extension.nameConstraints, new NameConstraints(
                new GeneralSubtree[] {new GeneralSubtree(new GeneralName(GeneralName.dNSName, "example.org"))}, null))),
                Reason.DISALLOWED_EXTENSION, "name constraints");
    }

    @Test
    void acceptsTheExtensionsALeafMayAskFor() throws Exception {
        ValidatedCsr csr = validator.validate(Csrs.csrRequesting(Csrs.ecP256(),
                extension(Extension.basicConstraints, new BasicConstraints(false)),
                extension(Extension.keyUsage, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement)),
                extension(Extension.extendedKeyUsage, new ExtendedKeyUsage(
                        new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth})),
                extension(Extension.subjectAlternativeName, new GeneralNames(
                        new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://example.org/a")))));
        assertThat(csr.requestedUris()).containsExactly("spiffe://example.org/a");
    }

    @Test
    void refusesWeakOrUnsupportedKeys() {
        assertRejected(Csrs.csrSignedWith(Csrs.generate("RSA", 1024), "SHA256withRSA"), Reason.UNSUPPORTED_KEY,
                "RSA key of 1024 bits");
        assertRejected(Csrs.csrSignedWith(ec("secp521r1"), "SHA512withECDSA"), Reason.UNSUPPORTED_KEY,
                "ECDSA key on curve 1.3.132.0.35");
        assertRejected(Csrs.csrSignedWith(Csrs.generate("DSA", 2048), "SHA256withDSA"), Reason.UNSUPPORTED_KEY,
                "key algorithm 1.2.840.10040.4.1 is not allowed");
        // Its certificate could not be presented to Lanyard's TLS (BoringSSL) to renew.
        assertRejected(Csrs.csrSignedWith(Csrs.generate("Ed25519", 0), "Ed25519"), Reason.UNSUPPORTED_KEY,
                "Ed25519 keys are not allowed: a certificate with one could not be presented to Lanyard's TLS");
    }

    @Test
    void refusesABrokenSignature() {
        byte[] csr = Csrs.csr(Csrs.ecP256());
        csr[csr.length - 5] ^= 0x40;
        assertRejected(csr, Reason.BAD_SIGNATURE, "signature does not verify");
    }

    @Test
    void refusesACsrSignedByAnotherKey() throws Exception {
        byte[] a = Csrs.csr(Csrs.ecP256());
        byte[] b = Csrs.csr(Csrs.ecP256());
        // Same length structures: swap the signatures (the trailing BIT STRING) of two CSRs.
        var requestA = org.bouncycastle.asn1.pkcs.CertificationRequest.getInstance(a);
        var requestB = org.bouncycastle.asn1.pkcs.CertificationRequest.getInstance(b);
        byte[] forged = new org.bouncycastle.asn1.pkcs.CertificationRequest(requestA.getCertificationRequestInfo(),
                requestA.getSignatureAlgorithm(), requestB.getSignature()).getEncoded("DER");
        assertRejected(forged, Reason.BAD_SIGNATURE, "not signed by the key it carries");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 10, 50})
    void refusesTruncatedDer(int cut) {
        byte[] csr = Csrs.csr(Csrs.ecP256());
        assertRejected(Arrays.copyOf(csr, csr.length - cut), Reason.MALFORMED, "not a DER-encoded PKCS#10");
    }

    @Test
    void refusesGarbageTrailingBytesAndEmptyInput() {
        byte[] csr = Csrs.csr(Csrs.ecP256());
        assertRejected(Arrays.copyOf(csr, csr.length + 2), Reason.MALFORMED, "not a DER-encoded");
        assertRejected(new byte[0], Reason.MALFORMED, "empty");
        assertRejected("hello".getBytes(), Reason.MALFORMED, "not a DER-encoded");
    }

    @Test
    void refusesOversizedInputBeforeParsing() {
        assertRejected(new byte[CsrValidator.DEFAULT_MAX_BYTES + 1], Reason.TOO_LARGE, "at most 16384");
    }

    private void assertRejected(byte[] der, Reason reason, String message) {
        assertThatThrownBy(() -> validator.validate(der))
                .isInstanceOfSatisfying(CsrRejectedException.class, e -> assertThat(e.reason()).isEqualTo(reason))
                .hasMessageContaining(message);
    }

    private static Extension extension(ASN1ObjectIdentifier oid, ASN1Encodable value) throws IOException {
        return new Extension(oid, oid.equals(Extension.basicConstraints) || oid.equals(Extension.nameConstraints),
                value.toASN1Primitive().getEncoded(ASN1Encoding.DER));
    }

    private static KeyPair ec(String curve) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec(curve));
            return generator.generateKeyPair();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
