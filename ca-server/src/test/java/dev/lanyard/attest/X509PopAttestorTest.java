package dev.lanyard.attest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.testing.Csrs;
import dev.lanyard.testing.MutableClock;
import dev.lanyard.testing.NodePki;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.junit.jupiter.api.Test;

/** x509pop against a node PKI made here: a fresh challenge signed by the node key proves the node. */
class X509PopAttestorTest {

    final MutableClock clock = MutableClock.startingNow();
    final Instant now = clock.instant();
    final NodePki pki = new NodePki("node-ca", now);
    final X509PopAttestor attestor = new X509PopAttestor(List.of(pki.root()), clock, new SecureRandom());
    final KeyPair nodeKeys = Csrs.ecP256();
    final X509Certificate node = pki.node("node-7", nodeKeys, now.minusSeconds(60), now.plus(Duration.ofDays(1)));

    @Test
    void aSignedChallengeProvesTheNode() throws Exception {
        NodeEvidence evidence = new NodeEvidence.X509Pop(List.of(node));
        byte[] challenge = attestor.challenge(evidence).orElseThrow();
        AttestedNode attested = attestor.verify(evidence, challenge, sign(nodeKeys, challenge));

        assertThat(attested.kind()).isEqualTo("x509pop");
        assertThat(attested.id()).isEqualTo(HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-1").digest(node.getEncoded())));
        String root = "x509pop:ca:fingerprint:" + sha1(pki.root());
        assertThat(attested.selectors()).containsExactly("x509pop:subject:cn:node-7", root,
                root + ":subject:cn:node-7", "x509pop:san:dns:node-7.example");
    }

    /** Two PKIs may both name a node db-1: subject:cn trusts either root; the root-scoped selector one. */
    @Test
    void theSameCommonNameUnderTwoRootsIsTheSameCnSelectorButNotTheSameRootScopedOne() throws Exception {
        NodePki lab = new NodePki("lab-node-ca", now);
        X509PopAttestor both = new X509PopAttestor(List.of(pki.root(), lab.root()), clock, new SecureRandom());
        KeyPair labKeys = Csrs.ecP256();
        AttestedNode prod = proven(both, pki.node("db-1", nodeKeys, now.minusSeconds(60), now.plusSeconds(3600)), nodeKeys);
        AttestedNode labNode = proven(both, lab.node("db-1", labKeys, now.minusSeconds(60), now.plusSeconds(3600)), labKeys);

        assertThat(prod.selectors()).contains("x509pop:subject:cn:db-1",
                "x509pop:ca:fingerprint:" + sha1(pki.root()) + ":subject:cn:db-1");
        assertThat(labNode.selectors()).contains("x509pop:subject:cn:db-1",
                "x509pop:ca:fingerprint:" + sha1(lab.root()) + ":subject:cn:db-1")
                .doesNotContain("x509pop:ca:fingerprint:" + sha1(pki.root()) + ":subject:cn:db-1");
    }

    /** The node signs a challenge as a TLS client would: a certificate that forbids that is refused. */
    @Test
    void aCertificateNotForClientSignaturesIsRefused() throws Exception {
        Instant from = now.minusSeconds(60);
        Instant to = now.plusSeconds(3600);
        assertThatThrownBy(() -> attestor.challenge(new NodeEvidence.X509Pop(List.of(pki.node("node-7", nodeKeys,
                from, to, KeyUsage.keyAgreement)))))
                .isInstanceOf(AttestationException.class).hasMessageContaining("key usage does not include digitalSignature")
                .extracting(e -> ((AttestationException) e).reason()).isEqualTo(AttestationException.Reason.DENIED);
        X509Certificate serverOnly = pki.node("node-7", nodeKeys, from, to, KeyUsage.digitalSignature,
                KeyPurposeId.id_kp_serverAuth);
        assertThatThrownBy(() -> attestor.challenge(new NodeEvidence.X509Pop(List.of(serverOnly))))
                .isInstanceOf(AttestationException.class).hasMessageContaining("extended key usage does not include clientAuth")
                .extracting(e -> ((AttestationException) e).reason()).isEqualTo(AttestationException.Reason.DENIED);
        // verify checks it too, whatever challenge was handed out
        assertThatThrownBy(() -> attestor.verify(new NodeEvidence.X509Pop(List.of(serverOnly)), new byte[32],
                sign(nodeKeys, new byte[32]))).hasMessageContaining("clientAuth");

        // Unrestricted, clientAuth, or any extended key usage: fit.
        proven(attestor, pki.node("node-7", nodeKeys, from, to, 0), nodeKeys);
        proven(attestor, pki.node("node-7", nodeKeys, from, to, KeyUsage.digitalSignature | KeyUsage.keyEncipherment,
                KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth), nodeKeys);
        proven(attestor, pki.node("node-7", nodeKeys, from, to, KeyUsage.digitalSignature,
                KeyPurposeId.anyExtendedKeyUsage), nodeKeys);
    }

    static AttestedNode proven(X509PopAttestor attestor, X509Certificate node, KeyPair keys) throws Exception {
        NodeEvidence evidence = new NodeEvidence.X509Pop(List.of(node));
        byte[] challenge = attestor.challenge(evidence).orElseThrow();
        return attestor.verify(evidence, challenge, sign(keys, challenge));
    }

    static String sha1(X509Certificate cert) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(cert.getEncoded()));
    }

    @Test
    void aSignatureByAnotherKeyIsRefused() throws Exception {
        NodeEvidence evidence = new NodeEvidence.X509Pop(List.of(node));
        byte[] challenge = attestor.challenge(evidence).orElseThrow();
        assertThatThrownBy(() -> attestor.verify(evidence, challenge, sign(Csrs.ecP256(), challenge)))
                .isInstanceOf(AttestationException.class).hasMessageContaining("challenge signature does not verify")
                .extracting(e -> ((AttestationException) e).reason()).isEqualTo(AttestationException.Reason.UNTRUSTED);
    }

    @Test
    void aChallengeEachTimeSoAnOldSignatureDoesNotReplay() throws Exception {
        NodeEvidence evidence = new NodeEvidence.X509Pop(List.of(node));
        byte[] first = attestor.challenge(evidence).orElseThrow();
        byte[] second = attestor.challenge(evidence).orElseThrow();
        assertThat(second).isNotEqualTo(first);
        assertThatThrownBy(() -> attestor.verify(evidence, second, sign(nodeKeys, first)))
                .isInstanceOf(AttestationException.class);
    }

    @Test
    void aCertificateFromAnUnknownRootIsRefusedBeforeAnyChallenge() {
        NodePki other = new NodePki("other-ca", now);
        X509Certificate foreign = other.node("node-7", nodeKeys, now.minusSeconds(60), now.plus(Duration.ofDays(1)));
        assertThatThrownBy(() -> attestor.challenge(new NodeEvidence.X509Pop(List.of(foreign))))
                .isInstanceOf(AttestationException.class).hasMessageContaining("does not chain to a configured x509pop root")
                .extracting(e -> ((AttestationException) e).reason()).isEqualTo(AttestationException.Reason.UNTRUSTED);
    }

    @Test
    void anExpiredNodeCertificateIsRefused() {
        X509Certificate expired = pki.node("node-7", nodeKeys, now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1)));
        assertThatThrownBy(() -> attestor.challenge(new NodeEvidence.X509Pop(List.of(expired))))
                .isInstanceOf(AttestationException.class).hasMessageContaining("not valid now")
                .extracting(e -> ((AttestationException) e).reason()).isEqualTo(AttestationException.Reason.EXPIRED);
    }

    @Test
    void aCaCertificateIsNotANode() {
        assertThatThrownBy(() -> attestor.challenge(new NodeEvidence.X509Pop(List.of(pki.root()))))
                .isInstanceOf(AttestationException.class).hasMessageContaining("CA certificate");
    }

    @Test
    void withoutRootsX509popIsOff() {
        X509PopAttestor off = new X509PopAttestor(List.of(), clock, new SecureRandom());
        assertThatThrownBy(() -> off.challenge(new NodeEvidence.X509Pop(List.of(node))))
                .isInstanceOf(AttestationException.class).hasMessageContaining("not enabled");
    }

    static byte[] sign(KeyPair keys, byte[] data) throws Exception {
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(keys.getPrivate());
        signer.update(data);
        return signer.sign();
    }
}
