package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lanyard.credential.Credential;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.v1.IssueTokenRequest;
import dev.lanyard.v1.RevocationServiceGrpc;
import dev.lanyard.v1.RevocationTarget;
import dev.lanyard.v1.RevokeRequest;
import dev.lanyard.v1.WatchRevocationsRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /metrics over HTTP after real traffic: counts by outcome and code, latencies, watchers, key clocks. */
class MetricsTest {

    static final String WEB = "spiffe://lanyard.local/ns/shop/sa/web";

    @TempDir
    Path dir;
    RunningServer lanyard;

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir);
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void countsWhatHappened() throws Exception {
        lanyard.publishExampleContracts();
        lanyard.applyPolicy("""
                version: 1
                grants { spiffe_ids: "spiffe://lanyard.local/ns/shop/*" audience: "payments" scopes: "payments.read" }
                """);
        lanyard.register(WEB);
        Credential web = lanyard.bootstrap(WEB);
        lanyard.renew(web);
        lanyard.tokens(web).issueToken(IssueTokenRequest.newBuilder().setAudience("payments").addScopes("payments.read").build());
        assertThatThrownBy(() -> lanyard.tokens(web).issueToken(IssueTokenRequest.newBuilder().setAudience("payments")
                .addScopes("payments.charge").build())).isNotNull();
        var watch = RevocationServiceGrpc.newBlockingStub(lanyard.channel(web))
                .watchRevocations(WatchRevocationsRequest.getDefaultInstance());
        watch.next(); // caught up: the stream is open
        lanyard.revocations().revoke(RevokeRequest.newBuilder().setTarget(RevocationTarget.newBuilder().setJti("j1")).build());

        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics"))).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        assertThat(response.headers().firstValue("Cache-Control")).hasValue("max-age=0");
        String text = response.body();
        assertThat(text)
                .contains("lanyard_certificates_total{code=\"\",operation=\"bootstrap\",outcome=\"issued\"} 1.0")
                .contains("lanyard_certificates_total{code=\"\",operation=\"renew\",outcome=\"issued\"} 1.0")
                .contains("lanyard_tokens_total{code=\"\",outcome=\"issued\"} 1.0")
                .contains("lanyard_tokens_total{code=\"PERMISSION_DENIED\",outcome=\"refused\"} 1.0")
                .contains("lanyard_token_request_seconds_count 2")
                .contains("lanyard_certificate_request_seconds_bucket{operation=\"renew\",le=\"+Inf\"} 1")
                .contains("lanyard_revocations_total{kind=\"jti\"} 1.0")
                .contains("lanyard_revocation_watchers 1.0")
                .containsPattern("lanyard_key_age_seconds\\{key_id=\"[^\"]+\",kind=\"jwt\"\\} [0-9.E]+")
                .containsPattern("lanyard_key_next_rotation_seconds\\{kind=\"x509\"\\} 1\\.57[0-9]+E7")
                .containsPattern("lanyard_issuing_ca_remaining_seconds 3\\.15[0-9]+E7")
                .doesNotContain(WEB);
    }

    @Test
    void countsEveryAuditRecordOnceAndTheCommitsTheyShared() throws Exception {
        lanyard.register(WEB);
        lanyard.renew(lanyard.bootstrap(WEB));

        long before = lanyard.rows("audit_events");
        String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(lanyard.httpUrl("/metrics")))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(lanyard.rows("audit_events")).as("nothing appended meanwhile").isEqualTo(before);

        // A fresh data directory: every record in the trail was appended by this server.
        double records = sample(text, "lanyard_audit_records_total");
        double commits = sample(text, "lanyard_audit_commits_total");
        assertThat(records).isEqualTo(before);
        assertThat(commits).isPositive().isLessThanOrEqualTo(records);
    }

    private static double sample(String exposition, String name) {
        return exposition.lines().filter(line -> line.startsWith(name + " ")).mapToDouble(line ->
                Double.parseDouble(line.substring(name.length() + 1).trim())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + name + " in /metrics"));
    }
}
