package dev.lanyard.client.credentials;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
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

/**
 * Makes a fresh ECDSA P-256 key and a PKCS#10 request for it. The request carries only the public
 * key and the DNS names asked for: the server takes the identity from the attestation or from the
 * current certificate, never from the request.
 */
final class CsrMaker {

    /** A new key and the DER request signed with it. */
    record KeyAndCsr(KeyPair keys, byte[] csr) {
    }

    private final SecureRandom random;
    private final List<String> dnsNames;

    CsrMaker(SecureRandom random, List<String> dnsNames) {
        this.random = random;
        this.dnsNames = List.copyOf(dnsNames);
    }

    KeyAndCsr next() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"), random);
            KeyPair keys = generator.generateKeyPair();
            JcaPKCS10CertificationRequestBuilder builder =
                    new JcaPKCS10CertificationRequestBuilder(new X500Name(""), keys.getPublic());
            if (!dnsNames.isEmpty()) {
                List<GeneralName> names = new ArrayList<>();
                for (String dns : dnsNames) {
                    names.add(new GeneralName(GeneralName.dNSName, dns));
                }
                ExtensionsGenerator extensions = new ExtensionsGenerator();
                extensions.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(names.toArray(GeneralName[]::new)));
                builder.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, extensions.generate());
            }
            byte[] csr = builder.build(new JcaContentSignerBuilder("SHA256withECDSA").setSecureRandom(random)
                    .build(keys.getPrivate())).getEncoded();
            return new KeyAndCsr(keys, csr);
        } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
            throw new IllegalStateException("cannot make an ECDSA P-256 key and CSR: " + e.getMessage(), e);
        }
    }
}
