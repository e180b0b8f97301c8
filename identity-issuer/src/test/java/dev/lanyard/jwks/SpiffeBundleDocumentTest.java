package dev.lanyard.jwks;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SpiffeBundleDocumentTest {

    @Test
    void openIdConfigurationPointsAtTheJwks() throws Exception {
        Map<String, Object> doc = JSONObjectUtils.parse(OpenIdConfiguration.build("https://l.example",
                "https://l.example/.well-known/jwks.json", List.of("ES256")));
        assertThat(doc).containsEntry("issuer", "https://l.example")
                .containsEntry("jwks_uri", "https://l.example/.well-known/jwks.json");
    }

    @Test
    void emptyBundleStillCarriesSequenceAndRefreshHint() throws Exception {
        Map<String, Object> doc = JSONObjectUtils.parse(SpiffeBundleDocument.build(List.of(), List.of(), 7,
                Duration.ofMinutes(5)));
        assertThat(doc).containsEntry("spiffe_sequence", 7L).containsEntry("spiffe_refresh_hint", 300L);
    }
}
