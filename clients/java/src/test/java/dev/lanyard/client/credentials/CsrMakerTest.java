package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.SecureRandom;
import java.security.interfaces.ECPublicKey;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.junit.jupiter.api.Test;

class CsrMakerTest {

    @Test
    void makesAFreshP256KeyAndARequestSignedWithIt() throws Exception {
        CsrMaker maker = new CsrMaker(new SecureRandom(), List.of());

        CsrMaker.KeyAndCsr first = maker.next();
        CsrMaker.KeyAndCsr second = maker.next();

        PKCS10CertificationRequest csr = new PKCS10CertificationRequest(first.csr());
        assertThat(csr.isSignatureValid(new JcaContentVerifierProviderBuilder().build(first.keys().getPublic())))
                .isTrue();
        assertThat(((ECPublicKey) first.keys().getPublic()).getParams().getCurve().getField().getFieldSize())
                .isEqualTo(256);
        assertThat(csr.getSubjectPublicKeyInfo().getEncoded()).isEqualTo(first.keys().getPublic().getEncoded());
        assertThat(csr.getAttributes()).isEmpty();
        assertThat(second.keys().getPublic()).isNotEqualTo(first.keys().getPublic());
    }

    @Test
    void asksForTheConfiguredDnsNames() throws Exception {
        CsrMaker maker = new CsrMaker(new SecureRandom(), List.of("inventory.shop.svc", "localhost"));

        PKCS10CertificationRequest csr = new PKCS10CertificationRequest(maker.next().csr());

        Extensions extensions = Extensions.getInstance(
                csr.getAttributes(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest)[0].getAttrValues().getObjectAt(0));
        GeneralName[] names = GeneralNames.getInstance(
                extensions.getExtensionParsedValue(Extension.subjectAlternativeName)).getNames();
        assertThat(names).extracting(n -> n.getTagNo() + ":" + n.getName())
                .containsExactly("2:inventory.shop.svc", "2:localhost");
    }
}
