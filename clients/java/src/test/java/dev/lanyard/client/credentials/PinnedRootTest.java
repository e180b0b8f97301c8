package dev.lanyard.client.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.client.testing.TestPki;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class PinnedRootTest {

    private final X509Certificate root = new TestPki(Clock.systemUTC(), "lanyard.local").root();
    private final X509Certificate otherRoot = new TestPki(Clock.systemUTC(), "lanyard.local").root();

    private String hex(X509Certificate certificate) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
    }

    @Test
    void acceptsTheFormsAFingerprintIsWrittenIn() throws Exception {
        String hex = hex(root);
        String colons = String.join(":", hex.split("(?<=\\G..)"));

        for (String form : List.of("sha256:" + hex, hex, hex.toUpperCase(), "SHA256:" + hex, colons, "sha256:" + colons)) {
            PinnedRoot pin = PinnedRoot.parse(form);
            assertThat(pin.matches(root)).as(form).isTrue();
            assertThat(pin.matches(otherRoot)).as(form).isFalse();
            assertThat(pin).hasToString("sha256:" + hex);
        }
    }

    @Test
    void selectsThePinnedRootFromABundle() throws Exception {
        PinnedRoot pin = PinnedRoot.parse("sha256:" + hex(root));

        assertThat(pin.select(List.of(otherRoot, root))).contains(root);
        assertThat(pin.select(List.of(otherRoot))).isEmpty();
    }

    @Test
    void refusesAnythingElse() {
        assertThatThrownBy(() -> PinnedRoot.parse(" "))
                .hasMessage("a pinned root fingerprint is required");
        assertThatThrownBy(() -> PinnedRoot.parse("sha1:" + "ab".repeat(20)))
                .hasMessage("the pinned root fingerprint must be SHA-256 (\"sha256:<64 hex digits>\"), not sha1");
        assertThatThrownBy(() -> PinnedRoot.parse("sha256:" + "ab".repeat(31)))
                .hasMessage("the pinned root fingerprint must be \"sha256:\" and 64 hex digits, as `lanyard` prints it");
        assertThatThrownBy(() -> PinnedRoot.parse("sha256:" + "zz".repeat(32)))
                .hasMessage("the pinned root fingerprint must be \"sha256:\" and 64 hex digits, as `lanyard` prints it");
    }
}
