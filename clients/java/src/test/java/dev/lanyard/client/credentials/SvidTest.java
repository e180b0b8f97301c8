package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.client.testing.TestPki;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class SvidTest {

    private final TestPki pki = new TestPki(Clock.systemUTC(), "lanyard.local");
    private final TestPki.Held held = pki.leaf("spiffe://lanyard.local/a");
    private final Svid svid = new Svid("spiffe://lanyard.local/a", held.privateKey(), held.leaf(),
            List.of(held.intermediate()), List.of(pki.root()));

    @Test
    void sendsTheLeafThenTheIntermediates() {
        assertThat(svid.certificateChain()).containsExactly(held.leaf(), held.intermediate());
        assertThat(svid.serialHex()).isEqualTo(held.leaf().getSerialNumber().toString(16));
    }

    @Test
    void neverShowsThePrivateKey() {
        String encodedKey = Base64.getEncoder().encodeToString(held.privateKey().getEncoded());

        assertThat(svid.toString()).isEqualTo("Svid[spiffe://lanyard.local/a, serial " + svid.serialHex()
                + ", notAfter " + held.leaf().getNotAfter().toInstant() + "]");
        assertThat(svid.toString()).doesNotContain(encodedKey.substring(0, 20));
    }
}
