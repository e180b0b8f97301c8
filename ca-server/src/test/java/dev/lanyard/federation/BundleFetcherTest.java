package dev.lanyard.federation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.lanyard.testing.WebPki;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Fetches from a real TLS endpoint that misbehaves. */
class BundleFetcherTest {

    @Test
    void aPeerThatTricklesItsBodyFailsTheFetchWithinTheTimeoutAndTheExchangeIsAborted() throws Exception {
        WebPki web = WebPki.selfSigned("localhost");
        try (ScriptedEndpoint peer = new ScriptedEndpoint(web, "", 0)) {
            BundleFetcher fetcher = new BundleFetcher(Optional.of(List.of(web.certificate())), Duration.ofSeconds(1));
            FederationRelationship relationship = new FederationRelationship("b.test",
                    URI.create("https://localhost:" + peer.port() + "/bundle"), FederationRelationship.Profile.HTTPS_WEB,
                    Optional.empty(), Instant.now());
            long started = System.nanoTime();
            assertTimeoutPreemptively(Duration.ofSeconds(15), () -> assertThatThrownBy(
                    () -> fetcher.fetch(relationship, Optional.empty())).isInstanceOf(IOException.class)
                    .hasMessage("https://localhost:" + peer.port() + "/bundle did not answer in full within 1000 ms"));
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(4));
            // The exchange is aborted, not left reading: the peer sees its client go.
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (peer.windows().get(0).end == 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(peer.windows()).singleElement().satisfies(w -> assertThat(w.end).isNotZero());
        }
    }
}
