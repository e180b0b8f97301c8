package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.revocation.RevocationSet;
import dev.lanyard.client.testing.NothingRevoked;
import dev.lanyard.client.testing.TestPki;
import java.security.cert.CertificateException;
import java.time.Clock;
import org.junit.jupiter.api.Test;

/** The one check behind the handshakes: its bad inputs (the handshakes are in RefuseRevokedPeersTest). */
class PeerRevocationsTest {

    final TestPki pki = new TestPki(Clock.systemUTC(), "a.test");

    @Test
    void checksNothingUntilFollowingARevocationSetAndRefusesNone() {
        PeerRevocations revocations = new PeerRevocations();
        assertThatCode(() -> revocations.refuseIfRevoked(pki.leaf("https://not.a.spiffe.id/").leaf()))
                .doesNotThrowAnyException();
        assertThatThrownBy(() -> revocations.follow(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("revocations");
    }

    @Test
    void refusesAPeerWithoutASpiffeIdOnceFollowing() {
        PeerRevocations revocations = new PeerRevocations();
        revocations.follow(RevocationSet.NONE);
        assertThatThrownBy(() -> revocations.refuseIfRevoked(pki.leaf("https://not.a.spiffe.id/").leaf()))
                .isInstanceOf(CertificateException.class)
                .hasMessageStartingWith("the peer is refused: revocations name SPIFFE IDs and the certificate is"
                        + " not an X.509-SVID");
        assertThatCode(() -> revocations.refuseIfRevoked(pki.leaf("spiffe://a.test/x").leaf()))
                .doesNotThrowAnyException();
    }

    @Test
    void refusesEveryPeerOnAnInterruptedThreadAndKeepsTheInterrupt() {
        PeerRevocations revocations = new PeerRevocations();
        revocations.follow(new NothingRevoked(wait -> {
            throw new InterruptedException();
        }));
        try {
            assertThatThrownBy(() -> revocations.refuseIfRevoked(pki.leaf("spiffe://a.test/x").leaf()))
                    .hasMessageContaining("revocations are not loaded yet");
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
    }
}
