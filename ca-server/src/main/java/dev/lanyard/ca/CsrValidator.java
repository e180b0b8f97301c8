package dev.lanyard.ca;

import dev.lanyard.ca.CsrRejectedException.Reason;
import dev.lanyard.crypto.CryptoProviders;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.NoSuchAlgorithmException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1Primitive;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.pkcs.Attribute;
import org.bouncycastle.asn1.pkcs.CertificationRequest;
import org.bouncycastle.asn1.pkcs.CertificationRequestInfo;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.RSAPublicKey;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;

/**
 * Checks a PKCS#10 request before anything is issued for it: its size, its DER, its key type, that
 * its signature proves possession of the key, and that it asks for no CA powers. The signature is checked with a plain JCA
 * {@link Signature} of the active provider over the request info; Bouncy Castle's verifier
 * builder cannot use ACCP keys and halves issuance throughput.
 */
public final class CsrValidator {

    public static final int DEFAULT_MAX_BYTES = 16 * 1024;

    private static final String EC = "1.2.840.10045.2.1";
    private static final String RSA = "1.2.840.113549.1.1.1";
    private static final String ED25519 = "1.3.101.112";
    private static final Map<String, String> CURVES = Map.of(
            "1.2.840.10045.3.1.7", "P-256",
            "1.3.132.0.34", "P-384");
    private static final int MIN_RSA_BITS = 2048;
    private static final int MAX_RSA_BITS = 8192;

    /** Signature algorithm OID → (JCA name, key algorithm OID it belongs to). */
    private record SignatureAlgorithm(String jcaName, String keyOid) {
    }

    private static final Map<String, SignatureAlgorithm> SIGNATURES = Map.of(
            "1.2.840.10045.4.3.2", new SignatureAlgorithm("SHA256withECDSA", EC),
            "1.2.840.10045.4.3.3", new SignatureAlgorithm("SHA384withECDSA", EC),
            "1.2.840.10045.4.3.4", new SignatureAlgorithm("SHA512withECDSA", EC),
            "1.2.840.113549.1.1.11", new SignatureAlgorithm("SHA256withRSA", RSA),
            "1.2.840.113549.1.1.12", new SignatureAlgorithm("SHA384withRSA", RSA),
            "1.2.840.113549.1.1.13", new SignatureAlgorithm("SHA512withRSA", RSA));

    private final CryptoProviders crypto;
    private final int maxDerBytes;
    /**
     * Per thread, per signature algorithm: a verifier and the key factory that makes its keys.
     * Looking them up for every CSR (a provider lookup and a reflective constructor each) cost a
     * tenth of a renewal on the network thread; each is initialised for its CSR's key before use.
     */
    private final ThreadLocal<Map<String, Verifier>> verifiers = ThreadLocal.withInitial(java.util.HashMap::new);

    private record Verifier(Signature signature, KeyFactory keys) {
    }

    public CsrValidator(CryptoProviders crypto, int maxDerBytes) {
        this.crypto = crypto;
        this.maxDerBytes = maxDerBytes;
    }

    public ValidatedCsr validate(byte[] der) throws CsrRejectedException {
        if (der == null || der.length == 0) {
            throw new CsrRejectedException(Reason.MALFORMED, "CSR is empty; send a DER-encoded PKCS#10 request");
        }
        if (der.length > maxDerBytes) {
            throw new CsrRejectedException(Reason.TOO_LARGE,
                    "CSR is " + der.length + " bytes; at most " + maxDerBytes + " are accepted");
        }
        CertificationRequest request = parse(der);
        CertificationRequestInfo info = request.getCertificationRequestInfo();
        SubjectPublicKeyInfo spki = info.getSubjectPublicKeyInfo();
        String keyOid = spki.getAlgorithm().getAlgorithm().getId();
        String keyDescription = describeAllowedKey(spki, keyOid);

        String signatureOid = request.getSignatureAlgorithm().getAlgorithm().getId();
        SignatureAlgorithm algorithm = SIGNATURES.get(signatureOid);
        if (algorithm == null || !algorithm.keyOid().equals(keyOid)) {
            throw new CsrRejectedException(Reason.BAD_SIGNATURE, "CSR signature algorithm " + signatureOid
                    + " is not supported for a " + keyDescription + " key");
        }
        PublicKey publicKey = verifySignature(request, info, spki, algorithm, keyOid);
        List<String> uris = new ArrayList<>();
        List<String> dnsNames = new ArrayList<>();
        readExtensionRequest(info, uris, dnsNames);
        return new ValidatedCsr(publicKey, keyDescription, uris, dnsNames, commonName(info));
    }

    private static CertificationRequest parse(byte[] der) throws CsrRejectedException {
        try {
            // fromByteArray refuses trailing bytes after the one DER object.
            return CertificationRequest.getInstance(ASN1Primitive.fromByteArray(der));
        } catch (IOException | RuntimeException e) {
            throw new CsrRejectedException(Reason.MALFORMED, "CSR is not a DER-encoded PKCS#10 request");
        }
    }

    private static String describeAllowedKey(SubjectPublicKeyInfo spki, String keyOid) throws CsrRejectedException {
        switch (keyOid) {
            case EC -> {
                ASN1Encodable parameters = spki.getAlgorithm().getParameters();
                String curve = parameters instanceof ASN1ObjectIdentifier oid ? CURVES.get(oid.getId()) : null;
                if (curve == null) {
                    throw new CsrRejectedException(Reason.UNSUPPORTED_KEY, "ECDSA key on curve "
                            + (parameters instanceof ASN1ObjectIdentifier oid ? oid.getId() : "(explicit parameters)")
                            + " is not allowed; use P-256 or P-384");
                }
                return "ECDSA " + curve;
            }
            case RSA -> {
                int bits;
                try {
                    bits = RSAPublicKey.getInstance(spki.parsePublicKey()).getModulus().bitLength();
                } catch (IOException | RuntimeException e) {
                    throw new CsrRejectedException(Reason.MALFORMED, "CSR holds an unreadable RSA public key");
                }
                if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
                    throw new CsrRejectedException(Reason.UNSUPPORTED_KEY, "RSA key of " + bits
                            + " bits is not allowed; use " + MIN_RSA_BITS + " to " + MAX_RSA_BITS + " bits");
                }
                return "RSA " + bits;
            }
            // A workload presents its certificate to Lanyard to renew it and to mint tokens, and the
            // server's TLS (BoringSSL) does not accept Ed25519 client signatures: refused here rather
            // than issued as a certificate that could never renew.
            case ED25519 -> throw new CsrRejectedException(Reason.UNSUPPORTED_KEY, "Ed25519 keys are not allowed:"
                    + " a certificate with one could not be presented to Lanyard's TLS to renew it or to mint"
                    + " tokens; use ECDSA P-256 or P-384, or RSA of at least 2048 bits");
            default -> throw new CsrRejectedException(Reason.UNSUPPORTED_KEY, "key algorithm " + keyOid
                    + " is not allowed; use ECDSA P-256 or P-384, or RSA of at least 2048 bits");
        }
    }

    private PublicKey verifySignature(CertificationRequest request, CertificationRequestInfo info,
            SubjectPublicKeyInfo spki, SignatureAlgorithm algorithm, String keyOid) throws CsrRejectedException {
        try {
            Verifier verifier = verifiers.get().get(algorithm.jcaName());
            if (verifier == null) {
                verifier = verifier(algorithm, keyOid);
                verifiers.get().put(algorithm.jcaName(), verifier);
            }
            Signature signature = verifier.signature();
            PublicKey publicKey = verifier.keys().generatePublic(new X509EncodedKeySpec(spki.getEncoded(ASN1Encoding.DER)));
            signature.initVerify(publicKey);
            signature.update(info.getEncoded(ASN1Encoding.DER));
            if (!signature.verify(request.getSignature().getOctets())) {
                throw new CsrRejectedException(Reason.BAD_SIGNATURE,
                        "CSR signature does not verify: it was not signed by the key it carries");
            }
            return publicKey;
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new CsrRejectedException(Reason.BAD_SIGNATURE,
                    "CSR signature does not verify: it was not signed by the key it carries");
        }
    }

    /**
     * The key must belong to the provider that verifies with it; where that provider cannot make such
     * keys (ACCP has no Ed25519 key factory), Bouncy Castle does both.
     */
    private Verifier verifier(SignatureAlgorithm algorithm, String keyOid) throws GeneralSecurityException {
        String keyAlgorithm = keyOid.equals(EC) ? "EC" : keyOid.equals(RSA) ? "RSA" : "Ed25519";
        Signature signature = crypto.signature(algorithm.jcaName());
        try {
            return new Verifier(signature, KeyFactory.getInstance(keyAlgorithm, signature.getProvider()));
        } catch (NoSuchAlgorithmException e) {
            return new Verifier(Signature.getInstance(algorithm.jcaName(), crypto.bouncyCastle()),
                    KeyFactory.getInstance(keyAlgorithm, crypto.bouncyCastle()));
        }
    }

    /**
     * Reads the requested SANs, and refuses a request for CA powers: the certificate is built with
     * CA:false whatever the CSR says, but a client that asks to sign certificates has a mistake or
     * an intent we refuse rather than quietly overrule. Other requested extensions (key usages
     * digitalSignature and keyAgreement, extended key usages) are ignored, as the profile sets them.
     */
    private static void readExtensionRequest(CertificationRequestInfo info, List<String> uris,
            List<String> dnsNames) throws CsrRejectedException {
        try {
            for (ASN1Encodable encodable : info.getAttributes()) {
                Attribute attribute = Attribute.getInstance(encodable);
                if (!attribute.getAttrType().equals(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)) {
                    continue;
                }
                for (ASN1Encodable value : attribute.getAttributeValues()) {
                    Extensions extensions = Extensions.getInstance(value);
                    refuseCaPowers(extensions);
                    GeneralNames names = GeneralNames.fromExtensions(extensions, Extension.subjectAlternativeName);
                    if (names == null) {
                        continue;
                    }
                    for (GeneralName name : names.getNames()) {
                        switch (name.getTagNo()) {
                            case GeneralName.uniformResourceIdentifier -> uris.add(text(name));
                            case GeneralName.dNSName -> dnsNames.add(text(name));
                            default -> throw new CsrRejectedException(Reason.DISALLOWED_SAN,
                                    "CSR asks for a subject alternative name of type " + name.getTagNo()
                                            + "; only the SPIFFE ID (URI) and DNS names are allowed");
                        }
                    }
                }
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new CsrRejectedException(Reason.MALFORMED, "CSR has an unreadable extension request");
        }
    }

    private static void refuseCaPowers(Extensions extensions) throws CsrRejectedException {
        BasicConstraints constraints = BasicConstraints.fromExtensions(extensions);
        if (constraints != null && constraints.isCA()) {
            throw new CsrRejectedException(Reason.DISALLOWED_EXTENSION, "CSR asks for basic constraints CA:true;"
                    + " Lanyard issues only leaf certificates (CA:false): leave basicConstraints out of the CSR");
        }
        KeyUsage usage = KeyUsage.fromExtensions(extensions);
        if (usage != null && (usage.hasUsages(KeyUsage.keyCertSign) || usage.hasUsages(KeyUsage.cRLSign))) {
            throw new CsrRejectedException(Reason.DISALLOWED_EXTENSION, "CSR asks for key usage keyCertSign or"
                    + " cRLSign; a workload certificate signs no certificates or CRLs: ask for digitalSignature"
                    + " (and keyAgreement) only, or no key usage");
        }
        if (extensions.getExtension(Extension.nameConstraints) != null) {
            throw new CsrRejectedException(Reason.DISALLOWED_EXTENSION, "CSR asks for name constraints,"
                    + " which only a CA certificate carries; leave them out of the CSR");
        }
    }

    private static String text(GeneralName name) throws CsrRejectedException {
        if (name.getName() instanceof ASN1String string) {
            return string.getString();
        }
        throw new CsrRejectedException(Reason.MALFORMED, "CSR has an unreadable subject alternative name");
    }

    private static Optional<String> commonName(CertificationRequestInfo info) {
        for (RDN rdn : info.getSubject().getRDNs(BCStyle.CN)) {
            if (rdn.getFirst().getValue() instanceof ASN1String cn) {
                return Optional.of(cn.getString());
            }
        }
        return Optional.empty();
    }
}
