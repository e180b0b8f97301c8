package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.credential.CredentialDirectory;
import dev.lanyard.crypto.CryptoProviders;
import dev.lanyard.testing.RunningServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line, run in-process against a real dev server on loopback. */
class LanyardCliTest {

    private static final String ID = "spiffe://lanyard.local/ns/cli/sa/app";

    @TempDir
    Path dir;
    RunningServer lanyard;
    String server;

    record Run(int exit, String out, String err) {
    }

    @BeforeEach
    void start() throws Exception {
        lanyard = RunningServer.start(dir.resolve("data"));
        server = "localhost:" + lanyard.server().grpcPort();
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void aGeneratedCaAddsANewRootAndTheNextIntermediateIsSignedByIt() {
        Run added = admin("ca", "add-root", "--generate");
        assertThat(added.exit()).as(added.err()).isZero();
        assertThat(added.out()).contains("is in the trust bundle; the bundle now holds 2 roots");
        assertThat(admin("keys", "rotate", "--x509").out()).contains("PREPARED");
        assertThat(lanyard.server().caRotation().intermediates().get(1).id()).isNotEmpty();
        var prepared = lanyard.server().caRotation().store().load(lanyard.server().caRotation().intermediates().get(1));
        assertThat(prepared.root().certificate()).isEqualTo(lanyard.server().trustBundle().get(1));
    }

    @Test
    void registrationsCanBeCreatedListedAndDeleted() {
        assertThat(admin("registration", "create", "--spiffe-id", ID, "--dns", "app.cli.internal", "--max-ttl", "2h")
                .out()).contains("registered " + ID);
        Run list = admin("registration", "list");
        assertThat(list.out()).contains("SPIFFE ID", ID, "2h", "app.cli.internal");
        assertThat(admin("registration", "delete", "--spiffe-id", ID).exit()).isZero();
        assertThat(admin("registration", "list").out()).doesNotContain(ID);
        Run again = admin("registration", "delete", "--spiffe-id", ID);
        assertThat(again.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(again.err()).contains("error: " + server + ": refused: NOT_FOUND: " + ID + " is not registered");
    }

    @Test
    void federationsCanBeAddedListedAndRemoved() {
        // nothing answers at port 1: the relationship stands (its fetches fail until the endpoint answers)
        Run added = admin("federation", "add", "partner.test", "--endpoint", "https://127.0.0.1:1/bundle",
                "--profile", "https_web");
        assertThat(added.exit()).as(added.err()).isZero();
        assertThat(added.out()).contains("federating with partner.test (https_web https://127.0.0.1:1/bundle)");
        Run listed = admin("federation", "list");
        assertThat(listed.out()).contains("TRUST DOMAIN", "partner.test", "https_web", "https://127.0.0.1:1/bundle");
        Run spiffeWithoutBundle = admin("federation", "add", "other.test", "--endpoint", "https://127.0.0.1:1/bundle",
                "--profile", "https_spiffe", "--endpoint-id", "spiffe://other.test/lanyard/server");
        assertThat(spiffeWithoutBundle.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(spiffeWithoutBundle.err()).contains("needs the endpoint's SPIFFE ID and an initial bundle");
        assertThat(admin("federation", "add", "x.test", "--endpoint", "https://x/b", "--profile", "web").exit())
                .isEqualTo(ExitCodes.USAGE);
        // a registration says which trust domains its workload federates with
        Run registered = admin("registration", "create", "--spiffe-id", ID, "--federates-with", "partner.test");
        assertThat(registered.exit()).as(registered.err()).isZero();
        assertThat(admin("registration", "list").out()).contains("FEDERATES WITH", "partner.test");
        Run own = admin("registration", "create", "--spiffe-id", ID + "-2", "--federates-with", "lanyard.local");
        assertThat(own.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(own.err()).contains("federates_with names this server's own trust domain lanyard.local");
        assertThat(admin("federation", "remove", "partner.test").out()).contains("no longer federating with partner.test");
        Run again = admin("federation", "remove", "partner.test");
        assertThat(again.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(again.err()).contains("does not federate with partner.test");
    }

    @Test
    void registrationsForANodeAgentNameTheParentAndSelectors() {
        assertThat(admin("registration", "create", "--spiffe-id", ID, "--parent", "x509pop:subject:cn:node-7",
                "--selector", "unix:uid:1000", "--selector", "unix:path:/usr/bin/app").exit()).isZero();
        assertThat(admin("registration", "list").out()).contains("PARENT", "x509pop:subject:cn:node-7",
                "unix:path:/usr/bin/app,unix:uid:1000");
        Run bad = admin("registration", "create", "--spiffe-id", ID + "2", "--parent", "x509pop:subject:cn:node-7",
                "--selector", "unix:uid:root");
        assertThat(bad.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(bad.err()).contains("INVALID_ARGUMENT", "selectors[0] unix:uid:(4 characters)", "not a number");
        Run agentToken = admin("join-token", "create", "--agent");
        assertThat(agentToken.out().trim()).matches("lyjt_[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}");
        assertThat(agentToken.err()).contains("spiffe://lanyard.local/lanyard/agent/join_token/");
    }

    @Test
    void bootstrapWithAPinnedRootThenRenew() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        Path creds = dir.resolve("creds");
        Run issue = run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", creds.toString());
        assertThat(issue.exit()).as(issue.err()).isZero();
        assertThat(issue.out()).contains(ID);
        assertThat(Files.getPosixFilePermissions(creds.resolve("key.pem")))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        Credential first = new CredentialDirectory(creds).read(CryptoProviders.bouncyCastleOnly());
        first.leaf().verify(first.chain().get(0).getPublicKey());
        first.chain().get(0).verify(first.bundle().get(0).getPublicKey());

        Run renew = run("cert", "renew", "--server", server, "--in", creds.toString());
        assertThat(renew.exit()).as(renew.err()).isZero();
        Credential second = new CredentialDirectory(creds).read(CryptoProviders.bouncyCastleOnly());
        assertThat(second.leaf().getSerialNumber()).isNotEqualTo(first.leaf().getSerialNumber());
        assertThat(second.leaf().getPublicKey()).isNotEqualTo(first.leaf().getPublicKey());

        assertThat(admin("certs", "list", "--spiffe-id", ID).out())
                .contains(openssl(first.leaf().getSerialNumber()), openssl(second.leaf().getSerialNumber()));
        assertThat(issue.out()).contains("serial " + openssl(first.leaf().getSerialNumber()));
    }

    @Test
    void bootstrapTrustingABundleFileWithAnotherKeyType() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        Path bundle = dir.resolve("data/admin/bundle.pem");
        Run issue = run("cert", "issue", "--server", server, "--bundle", bundle.toString(), "--key-type", "rsa-2048",
                "--join-token-file", tokenFile(), "--out", dir.resolve("rsa").toString());
        assertThat(issue.exit()).as(issue.err()).isZero();
        assertThat(new CredentialDirectory(dir.resolve("rsa")).read(CryptoProviders.bouncyCastleOnly()).leaf()
                .getPublicKey().getAlgorithm()).isEqualTo("RSA");
        // Not Ed25519: its certificate could not be presented to the server to renew.
        Run ed = run("cert", "issue", "--server", server, "--bundle", bundle.toString(), "--key-type", "ed25519",
                "--join-token-file", tokenFile(), "--out", dir.resolve("ed").toString());
        assertThat(ed.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(ed.err()).contains("--key-type (7 characters): not a key type this command line makes");
    }

    @Test
    void aWrongPinStopsBeforeTheTokenIsSent() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        String token = tokenFile();
        Run refused = run("cert", "issue", "--server", server, "--root-fingerprint", "sha256:" + "00".repeat(32),
                "--join-token-file", token, "--out", dir.resolve("x").toString());
        assertThat(refused.exit()).isEqualTo(ExitCodes.CONNECTION);
        assertThat(refused.err()).contains("error: " + server + ": TLS: no root in the server's trust bundle matches"
                + " the pinned fingerprint sha256:" + "00".repeat(32) + "; nothing was sent");
        assertThat(Files.exists(dir.resolve("x"))).isFalse();
        // The token was never sent, so it still works.
        assertThat(run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", token, "--out", dir.resolve("y").toString()).exit()).isZero();
        Run reused = run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", token, "--out", dir.resolve("z").toString());
        assertThat(reused.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(reused.err()).contains("refused: UNAUTHENTICATED: join token was already used")
                .doesNotContain(Files.readString(Path.of(token)).trim());
    }

    @Test
    void joinTokenCreatePrintsOnlyTheToken() {
        admin("registration", "create", "--spiffe-id", ID);
        Run token = admin("join-token", "create", "--spiffe-id", ID, "--ttl", "5m");
        assertThat(token.out().trim()).matches("lyjt_[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}");
        assertThat(token.err()).contains("single use").doesNotContain(token.out().trim());
    }

    @Test
    void adminVerbsNeedTheAdminCredential() throws Exception {
        Run missing = run("registration", "list", "--server", server, "--admin", dir.resolve("nothing").toString());
        assertThat(missing.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(missing.err()).contains(dir.resolve("nothing") + ": no admin credential here");

        admin("registration", "create", "--spiffe-id", ID);
        Path creds = dir.resolve("workload");
        run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", creds.toString());
        Run notAdmin = run("registration", "list", "--server", server, "--admin", creds.toString());
        assertThat(notAdmin.err()).contains("PERMISSION_DENIED: " + ID + " is not an admin");
    }

    @Test
    void benchIssueMeasuresRenewals() throws Exception {
        // A bench that outruns the per-identity call limit says which settings raise it.
        restartWith(java.util.Map.of("limits.identity-per-second", "5", "limits.identity-burst", "10"));
        Run limited = admin("bench", "issue", "--loader", "java", "--concurrency", "2", "--duration", "1s", "--warmup", "0s",
                "--csrs", "8", "--metrics", "http://localhost:" + lanyard.server().httpPort() + "/metrics");
        assertThat(limited.exit()).isEqualTo(1);
        assertThat(limited.err()).contains("rate limit stopped the bench", "limits.identity-per-second")
                .doesNotContain("token.rate-per-second");

        // Renewals outrun the dev server's limit (500/s, burst 1,000) too, within the window: raised.
        restartWith(java.util.Map.of("limits.identity-per-second", "1000000", "limits.identity-burst", "1000000"));
        Run bench = admin("bench", "issue", "--loader", "java", "--concurrency", "2", "--duration", "2s", "--warmup", "1s", "--csrs", "8",
                "--metrics", "http://localhost:" + lanyard.server().httpPort() + "/metrics", "--compare-in-process", "1s");
        assertThat(bench.exit()).as(bench.err()).isZero();
        assertThat(bench.out()).containsPattern("[1-9][0-9,]* certificates in 2s = [0-9,]+ certificates/s")
                .contains("p50", "p99", "after 1s warm-up")
                .containsPattern("server CPU [0-9.]+ ms per certificate; server resident memory [0-9,]+ MB")
                .containsPattern("store on disk [0-9,]+ → [0-9,]+ bytes \\(-?[0-9,]+ bytes per certificate\\)")
                .containsPattern("audit trail: [1-9][0-9,]* records in [1-9][0-9,]* commits \\([0-9.]+ records per commit\\)")
                .containsPattern("load generator CPU [0-9.]+ ms per certificate")
                .containsPattern("this machine: [0-9]+ % of CPU time busy, [0-9.]+ % stolen by the hypervisor")
                .containsPattern("in-process issuance right after, in this process: [0-9.]+ ms of CPU per certificate"
                        + " \\([0-9,]+/s on [0-9]+ threads\\); the server's CPU per renewal is [0-9.]+× that");

        // The floor under every call: health checks through the request chain, nothing issued or stored.
        Run ping = admin("bench", "ping", "--loader", "java", "--concurrency", "2", "--duration", "1s", "--warmup", "0s",
                "--metrics", "http://localhost:" + lanyard.server().httpPort() + "/metrics");
        assertThat(ping.exit()).as(ping.err()).isZero();
        assertThat(ping.out()).containsPattern("gRPC health checks over mTLS against .*, concurrency 2, after 0s warm-up")
                .containsPattern("[1-9][0-9,]* calls in 1s = [0-9,]+ calls/s")
                .containsPattern("server CPU [0-9.]+ ms per call")
                .doesNotContain("audit trail:");
    }

    @Test
    void benchPreloadFillsANewDataDirectory() {
        Path fresh = dir.resolve("preloaded").resolve("data");
        Run preload = run("bench", "preload", "--count", "25", "--identities", "5", "--data", fresh.toString());
        assertThat(preload.exit()).as(preload.err()).isZero();
        assertThat(preload.out()).contains("preloaded 25 certificates with their audit records");
        assertThat(dev.lanyard.store.Database.sqlitePath(fresh)).exists();
    }

    @Test
    void contractsPolicyTokensAndKeys() throws Exception {
        Path examples = dir.resolve("examples.pb");
        try (var in = getClass().getResourceAsStream("/examples.pb")) {
            Files.write(examples, in.readAllBytes());
        }
        Run published = admin("contracts", "publish", examples.toString());
        assertThat(published.exit()).as(published.err()).isZero();
        assertThat(published.out()).contains("published examples.pb as version",
                "/examples.payments.v1.PaymentsService/Charge", "payments.charge");
        assertThat(admin("contracts", "list").out()).contains("ledger", "ledger.write");

        Path policy = dir.resolve("policy.txtpb");
        Files.writeString(policy, "version: 1\ngrants { spiffe_ids: \"" + ID
                + "\" audience: \"payments\" scopes: \"payments.read\" }\n");
        assertThat(admin("policy", "apply", policy.toString()).out()).contains("applied policy version 1");
        assertThat(admin("policy", "show").out()).contains(ID, "payments.read");
        Run stale = admin("policy", "apply", policy.toString());
        assertThat(stale.err()).contains("FAILED_PRECONDITION");

        admin("registration", "create", "--spiffe-id", ID);
        Path creds = dir.resolve("creds");
        run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", creds.toString());
        Run token = run("token", "issue", "--server", server, "--in", creds.toString(), "--audience", "payments",
                "--scope", "payments.read");
        assertThat(token.exit()).as(token.err()).isZero();
        assertThat(token.out().trim()).matches("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+");
        assertThat(token.err()).doesNotContain(token.out().trim());
        Run refused = run("token", "issue", "--server", server, "--in", creds.toString(), "--audience", "payments",
                "--scope", "payments.refund");
        assertThat(refused.err()).contains("PERMISSION_DENIED", "payments.refund");

        assertThat(admin("keys", "list").out()).contains("jwt", "x509", "ACTIVE", "NEXT", "next key prepared at ");
        assertThat(admin("keys", "rotate", "--jwt").out()).containsPattern("PREPARED .* activates at 20");
        assertThat(admin("keys", "rotate", "--x509").out()).contains("PREPARED");
        assertThat(run("keys", "rotate", "--jwt", "--x509", "--server", server).exit()).isEqualTo(2);
        java.nio.file.Path kek = dir.resolve("kek-2");
        dev.lanyard.crypto.KeyEncryptionKey next = dev.lanyard.crypto.KeyEncryptionKey.generateFile(kek,
                new java.security.SecureRandom());
        assertThat(admin("keys", "rotate-kek", kek.toString()).out())
                .contains("key-encryption key " + next.id() + " now wraps every data key");

        // The dev server's per-identity rate limit (50/s, burst 100) is what a bench runs into first.
        Run bench = run("bench", "token", "--loader", "java", "--server", server, "--data", dir.resolve("data").toString(), "--in",
                creds.toString(), "--concurrency", "2", "--duration", "3s");
        assertThat(bench.exit()).isEqualTo(1);
        assertThat(bench.err()).contains("rate limit stopped the bench", "token.rate-per-second");
    }

    @Test
    void revokeListWatchAndReinstate() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        Path creds = dir.resolve("creds");
        run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", creds.toString());

        Run revoked = admin("revoke", "--spiffe-id", ID, "--reason", "keyCompromise", "--note", "laptop stolen");
        assertThat(revoked.exit()).as(revoked.err()).isZero();
        String serial = openssl(new CredentialDirectory(creds).read(CryptoProviders.bouncyCastleOnly()).leaf()
                .getSerialNumber());
        assertThat(revoked.out()).contains("revoked " + ID + " (keyCompromise), sequence 1",
                "with its certificates: " + serial);
        assertThat(admin("revoke", "--spiffe-id", ID).out()).contains("already revoked: " + ID);
        assertThat(admin("revoke", "--jti", "abc", "--reason", "nonsense").exit()).isEqualTo(2);
        Run unknownSerial = admin("revoke", "--serial", "abcdef");
        assertThat(unknownSerial.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(unknownSerial.err()).contains("NOT_FOUND");
        // openssl's spelling, with colons and a leading zero, names the same certificate
        String colons = String.join(":", serial.split("(?<=\\G..)"));
        assertThat(admin("revoke", "--serial", "serial=" + colons).out()).contains("already revoked: serial " + serial);
        assertThat(admin("revoke", "--serial", "xyz").err()).contains("error: --serial (3 characters): not a certificate serial");

        Run list = admin("revocations", "list");
        assertThat(list.out()).contains("SEQ", "spiffe_id", ID, "keyCompromise", "laptop stolen", "serial");
        Run renew = run("cert", "renew", "--server", server, "--in", creds.toString());
        assertThat(renew.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(renew.err()).contains("PERMISSION_DENIED", ID + " is revoked");

        assertThat(admin("reinstate", "--spiffe-id", ID).out()).contains("reinstated " + ID + ", sequence 3");
        Run watch = admin("revocations", "watch", "--count", "3");
        assertThat(watch.exit()).isZero();
        assertThat(watch.out()).contains("1 revoked " + ID + " (keyCompromise)", "2 revoked serial ",
                "3 reinstated " + ID);
        Run resumed = admin("revocations", "watch", "--after", "2", "--count", "1");
        assertThat(resumed.out()).startsWith("3 reinstated");
    }

    @Test
    void auditVerifyNamesAnEditedAndADeletedRecord() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        admin("join-token", "create", "--spiffe-id", ID);
        Run intact = admin("audit", "verify");
        assertThat(intact.exit()).as(intact.err()).isZero();
        assertThat(intact.out()).containsPattern("audit trail intact: \\d+ records; head \\d+:[0-9a-f]{64}");
        String head = intact.out().replaceAll("(?s).*head (\\d+:[0-9a-f]{64}).*", "$1").trim();
        assertThat(admin("audit", "verify", "--anchor", head).exit()).isZero();
        String headId = head.substring(0, head.indexOf(':'));
        Run rewritten = admin("audit", "verify", "--anchor", headId + ":" + "ab".repeat(32));
        assertThat(rewritten.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(rewritten.err()).contains("does NOT MATCH the anchor", "record " + headId + " has hash ",
                "not the anchored " + "ab".repeat(32) + ": either the anchor was mistyped (compare the two) or the chain"
                        + " was rewritten at or before record " + headId);
        Run beyond = admin("audit", "verify", "--anchor", "999999:" + "ab".repeat(32));
        assertThat(beyond.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(beyond.err()).contains("no record 999999: the trail ends at #",
                "either the anchor's id was mistyped or the trail was cut");
        Run malformed = admin("audit", "verify", "--anchor", headId + ":9f2c...");
        assertThat(malformed.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(malformed.err()).contains("error: --anchor (" + (headId + ":9f2c...").length()
                + " characters): the anchor is malformed"
                + " (nothing was checked)").doesNotContain("rewritten");
        assertThat(admin("audit", "verify", "--anchor", "#" + head.toUpperCase(java.util.Locale.ROOT)).exit()).isZero();
        Run tail = admin("audit", "tail", "-n", "50");
        assertThat(tail.out()).contains("SUCCESS", "registration.create " + ID, "join-token.create");

        try (var db = dev.lanyard.store.EmbeddedStore.openIn(dir.resolve("data"));
                var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            s.executeUpdate("update audit_events set actor = 'spiffe://lanyard.local/someone-else'"
                    + " where action = 'registration.create'");
        }
        long edited = idOf("registration.create");
        Run broken = admin("audit", "verify");
        assertThat(broken.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(broken.err()).contains("record " + edited + " was edited");

        try (var db = dev.lanyard.store.EmbeddedStore.openIn(dir.resolve("data"));
                var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            s.executeUpdate("delete from audit_events where id <= " + edited);
        }
        Run deleted = admin("audit", "verify");
        assertThat(deleted.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(deleted.err()).contains("records 1 to " + edited + " were deleted");
    }

    @Test
    void auditArchiveMovesARangeToAFileThatVerifiesWithTheLiveChain() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        long upTo = idOf("registration.create");
        admin("join-token", "create", "--spiffe-id", ID);
        Path file = dir.resolve("audit-archive-1.txt");

        Run archived = run("audit", "archive", "--before", Long.toString(upTo + 1), "--out", file.toString(), "--data",
                dir.resolve("data").toString());
        assertThat(archived.exit()).as(archived.err()).isZero();
        assertThat(archived.out()).contains("archived audit records 1 to " + upTo, file.toString());
        Run again = run("audit", "archive", "--before", Long.toString(upTo + 2), "--out", file.toString(), "--data",
                dir.resolve("data").toString());
        assertThat(again.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(again.err()).contains(file + ": exists already", "name a new file");

        Run both = admin("audit", "verify", "--archive", file.toString());
        assertThat(both.exit()).as(both.err()).isZero();
        assertThat(both.out()).containsPattern("audit trail intact: \\d+ records");
        Run liveOnly = admin("audit", "verify");
        assertThat(liveOnly.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(liveOnly.err()).contains("records 1 to " + upTo + " were deleted", "pass --archive FILE");
        assertThat(admin("audit", "tail", "-n", "5", "--action", "audit.archive").out())
                .contains("records 1 to " + upTo + " moved to the file");

        Files.writeString(file, Files.readString(file).replace("registration.create", "registration.delete"));
        Run tampered = admin("audit", "verify", "--archive", file.toString());
        assertThat(tampered.exit()).isEqualTo(ExitCodes.VERIFICATION);
        assertThat(tampered.err()).contains("record " + upTo + " was edited", "in the archive " + file);
    }

    private long idOf(String action) {
        String line = admin("audit", "tail", "-n", "200", "--action", action).out().lines().findFirst().orElseThrow();
        return Long.parseLong(line.substring(0, line.indexOf(' ')));
    }

    @Test
    void certIssueGetsEveryRegisteredDnsNameAndRenewalKeepsWhatTheCertificateHas() throws Exception {
        admin("registration", "create", "--spiffe-id", ID, "--dns", "api.cli.internal", "--dns", "cli.internal");
        Path all = dir.resolve("all");
        Run issue = run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", all.toString());
        assertThat(issue.out()).contains("DNS api.cli.internal, cli.internal");
        assertThat(CertCommand.dnsNames(leaf(all))).containsExactly("api.cli.internal", "cli.internal");

        Path narrowed = dir.resolve("narrowed");
        run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", narrowed.toString(), "--dns", "cli.internal");
        assertThat(CertCommand.dnsNames(leaf(narrowed))).containsExactly("cli.internal");
        Run renew = run("cert", "renew", "--server", server, "--in", narrowed.toString());
        assertThat(renew.exit()).as(renew.err()).isZero();
        assertThat(CertCommand.dnsNames(leaf(narrowed))).containsExactly("cli.internal");
        run("cert", "renew", "--server", server, "--in", narrowed.toString(), "--dns", "api.cli.internal");
        assertThat(CertCommand.dnsNames(leaf(narrowed))).containsExactly("api.cli.internal");
    }

    @Test
    void revokingAnIdentityNeverRegisteredNeedsForceAndThenKeepsItOut() {
        String typo = "spiffe://lanyard.local/ns/cli/sa/ap";
        Run refused = admin("revoke", "--spiffe-id", typo);
        assertThat(refused.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(refused.err()).contains("refused: NOT_FOUND: " + typo + " was never registered",
                "hint: check the SPIFFE ID (`lanyard registration list`); to refuse an identity before it exists,"
                        + " run the same command with --force");
        assertThat(admin("revocations", "list").out()).doesNotContain(typo);
        Run forced = admin("revoke", "--spiffe-id", typo, "--force", "--note", "never to exist");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(forced.out()).contains("revoked " + typo);
        assertThat(admin("revocations", "list").out()).contains(typo);
        Run register = admin("registration", "create", "--spiffe-id", typo);
        assertThat(register.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(register.err()).contains("FAILED_PRECONDITION: " + typo + " is revoked",
                "lanyard reinstate --spiffe-id " + typo);
        assertThat(admin("audit", "tail", "-n", "20").out()).contains("force=true");
        Run forceWithSerial = admin("revoke", "--serial", "0A1B", "--force");
        assertThat(forceWithSerial.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(forceWithSerial.err()).contains("--force goes with --spiffe-id only");
        assertThat(admin("reinstate", "--spiffe-id", typo).exit()).isZero();
        assertThat(admin("registration", "create", "--spiffe-id", typo).exit()).isZero();
    }

    @Test
    void auditFollowStreamsNewRecordsAndIsAuditedOnce() throws Exception {
        java.util.concurrent.CompletableFuture<Run> follow = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> admin("audit", "tail", "-n", "1", "--follow", "--action", "registration.", "--count", "2"));
        Thread.sleep(3_000); // longer than the old 2 s poll: a poller would have audited itself by now
        admin("registration", "create", "--spiffe-id", ID);
        admin("registration", "create", "--spiffe-id", ID + "2");
        Run followed = follow.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(followed.exit()).as(followed.err()).isZero();
        assertThat(followed.out()).contains("registration.create " + ID, "registration.create " + ID + "2");
        String reads = admin("audit", "tail", "-n", "1000", "--action", "audit.").out();
        assertThat(reads.lines().filter(l -> l.contains(" audit.follow "))).hasSize(1);
        assertThat(reads.lines().filter(l -> l.contains(" audit.list "))).hasSize(1); // the tail's first page
    }

    @Test
    void devOnATakenPortNamesItAndCreatesNothing() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Path fresh = dir.resolve("fresh");
            Run dev = run("dev", "--data", fresh.toString(), "--port", Integer.toString(taken.getLocalPort()),
                    "--http-port", "0");
            assertThat(dev.exit()).isEqualTo(ExitCodes.FAILED);
            assertThat(dev.err()).startsWith("error: 127.0.0.1:" + taken.getLocalPort() + " (gRPC, --port): the port is"
                    + " already in use").contains("nothing was created in " + fresh, "or pass --port with a free port");
            assertThat(fresh).doesNotExist();
        }
    }

    private static java.security.cert.X509Certificate leaf(Path credential) throws Exception {
        return new CredentialDirectory(credential).read(CryptoProviders.bouncyCastleOnly()).leaf();
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertThat(run("cert", "issue", "--out", "x").exit()).isEqualTo(2);
    }

    private static String openssl(java.math.BigInteger serial) {
        String hex = serial.toString(16).toUpperCase(java.util.Locale.ROOT);
        return hex.length() % 2 == 1 ? "0" + hex : hex;
    }

    private String tokenFile() throws Exception {
        Path file = Files.createTempFile(dir, "token", "");
        Files.writeString(file, admin("join-token", "create", "--spiffe-id", ID).out());
        return file.toString();
    }

    private void restartWith(java.util.Map<String, String> settings) throws Exception {
        lanyard.close();
        lanyard = RunningServer.start(dir.resolve("data"), settings);
        server = "localhost:" + lanyard.server().grpcPort();
    }

    private Run admin(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--server", server, "--data", dir.resolve("data").toString()));
        return run(all.toArray(String[]::new));
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Lanyard.commandLine(args);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }
}
