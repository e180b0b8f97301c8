package dev.lanyard.tools;

import dev.lanyard.audit.AuditText;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/** A workload's key, generated where it is used, and the PKCS#10 request that proves possession of it. */
enum WorkloadKeys {
    EC_P256("ec-p256", "EC", "secp256r1", "SHA256withECDSA"),
    EC_P384("ec-p384", "EC", "secp384r1", "SHA384withECDSA"),
    RSA_2048("rsa-2048", "RSA", null, "SHA256withRSA");

    private final String option;
    private final String algorithm;
    private final String curve;
    private final String signature;

    WorkloadKeys(String option, String algorithm, String curve, String signature) {
        this.option = option;
        this.algorithm = algorithm;
        this.curve = curve;
        this.signature = signature;
    }

    static WorkloadKeys fromOption(String option) {
        for (WorkloadKeys k : values()) {
            if (k.option.equals(option)) {
                return k;
            }
        }
        throw new CliFailure(AuditText.unnamed("--key-type", option), "not a key type this command line makes",
                "use one of ec-p256, ec-p384, rsa-2048", ExitCodes.USAGE);
    }

    KeyPair generate() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
            if (curve != null) {
                generator.initialize(new ECGenParameterSpec(curve));
            } else if (algorithm.equals("RSA")) {
                generator.initialize(2048);
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot generate a " + option + " key", e);
        }
    }

    /** DER CSR with the requested DNS SANs (the identity comes from the attestation, not from here). */
    byte[] csr(KeyPair keys, List<String> dnsNames) {
        try {
            JcaPKCS10CertificationRequestBuilder builder =
                    new JcaPKCS10CertificationRequestBuilder(new X500Name(""), keys.getPublic());
            if (!dnsNames.isEmpty()) {
                ExtensionsGenerator extensions = new ExtensionsGenerator();
                extensions.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(
                        dnsNames.stream().map(n -> new GeneralName(GeneralName.dNSName, n)).toArray(GeneralName[]::new)));
                builder.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate());
            }
            return builder.build(new JcaContentSignerBuilder(signature).build(keys.getPrivate())).getEncoded();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (OperatorCreationException e) {
            throw new IllegalStateException("cannot sign the CSR", e);
        }
    }
}
