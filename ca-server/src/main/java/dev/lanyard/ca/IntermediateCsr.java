package dev.lanyard.ca;

import dev.lanyard.custody.Signer;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.PKCS10CertificationRequestBuilder;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

/**
 * The CSR of a prepared intermediate key, signed through custody, asking for Lanyard's CA profile
 * (CA:true path length 0, keyCertSign and cRLSign, the trust domain's SPIFFE ID); and its reading
 * back by the offline signer, which checks the proof of possession.
 */
public final class IntermediateCsr {

    private static final java.security.Provider BOUNCY_CASTLE =
            new org.bouncycastle.jce.provider.BouncyCastleProvider();

    private IntermediateCsr() {
    }

    static String create(Signer key, X500Name subject, String trustDomain) {
        try {
            ExtensionsGenerator extensions = new ExtensionsGenerator();
            extensions.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            extensions.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
                    new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
            PKCS10CertificationRequest csr = new PKCS10CertificationRequestBuilder(subject,
                    SubjectPublicKeyInfo.getInstance(key.publicKey().getEncoded()))
                    .addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate())
                    .build(new SignatureContentSigner(key));
            StringWriter out = new StringWriter();
            try (PemWriter writer = new PemWriter(out)) {
                writer.writeObject(new PemObject("CERTIFICATE REQUEST", csr.getEncoded()));
            }
            return out.toString();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the intermediate CSR", e);
        }
    }

    /**
     * Reads a PEM CSR and checks its signature (the requester holds the key).
     *
     * @throws IllegalArgumentException naming what is wrong, never quoting the input
     */
    public static PKCS10CertificationRequest parse(String pem) {
        Object object;
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            object = parser.readObject();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("not a PEM certificate request (CSR)");
        }
        if (!(object instanceof PKCS10CertificationRequest csr)) {
            throw new IllegalArgumentException("no CERTIFICATE REQUEST block in the PEM input");
        }
        try {
            if (!csr.isSignatureValid(new JcaContentVerifierProviderBuilder()
                    .setProvider(BOUNCY_CASTLE)
                    .build(csr.getSubjectPublicKeyInfo()))) {
                throw new IllegalArgumentException("the CSR's signature does not verify with its own public key");
            }
        } catch (org.bouncycastle.operator.OperatorCreationException | org.bouncycastle.pkcs.PKCSException e) {
            throw new IllegalArgumentException("the CSR's signature cannot be checked: " + e.getMessage());
        }
        return csr;
    }
}
