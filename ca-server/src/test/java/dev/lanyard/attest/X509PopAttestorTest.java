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
        assertThat(attested.selectors()).containsExactly("x509pop:subject:cn:node-7",
                "x509pop:ca:fingerprint:" + HexFormat.of().formatHex(
                        MessageDigest.getInstance("SHA-1").digest(pki.root().getEncoded())),
                "x509pop:san:dns:node-7.example");
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
