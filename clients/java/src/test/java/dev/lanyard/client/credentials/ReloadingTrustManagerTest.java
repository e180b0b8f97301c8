package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.TestPki;
import java.security.cert.CertificateException;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReloadingTrustManagerTest {

    private final TestPki current = new TestPki(Clock.systemUTC(), "lanyard.local");
    private final TestPki next = new TestPki(Clock.systemUTC(), "lanyard.local");
    private final TestPki.Held fromCurrent = current.leaf("spiffe://lanyard.local/a", "localhost");
    private final TestPki.Held fromNext = next.leaf("spiffe://lanyard.local/a", "localhost");

    @Test
    void trustsChainsToTheBundleRootsOnly() throws Exception {
        ReloadingTrustManager trust = new ReloadingTrustManager(List.of(current.root()));

        trust.checkClientTrusted(fromCurrent.chain(), "ECDHE_ECDSA");
        trust.checkServerTrusted(fromCurrent.chain(), "ECDHE_ECDSA");
        assertThatThrownBy(() -> trust.checkClientTrusted(fromNext.chain(), "ECDHE_ECDSA"))
                .isInstanceOf(CertificateException.class);
        assertThat(trust.getAcceptedIssuers()).containsExactly(current.root());
    }

    @Test
    void followsTheBundleWhenARootIsAdded() throws Exception {
        ReloadingTrustManager trust = new ReloadingTrustManager(List.of(current.root()));

        trust.update(List.of(current.root(), next.root()));

        trust.checkServerTrusted(fromNext.chain(), "ECDHE_ECDSA");
        trust.checkServerTrusted(fromCurrent.chain(), "ECDHE_ECDSA");
        assertThat(trust.roots()).containsExactly(current.root(), next.root());
    }

    @Test
    void refusesAnEmptyBundle() {
        assertThatThrownBy(() -> new ReloadingTrustManager(List.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a trust bundle needs at least one root certificate");
    }
}
