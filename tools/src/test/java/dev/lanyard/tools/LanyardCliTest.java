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
    void registrationsCanBeCreatedListedAndDeleted() {
        assertThat(admin("registration", "create", "--spiffe-id", ID, "--dns", "app.cli.internal", "--max-ttl", "2h")
                .out()).contains("registered " + ID);
        Run list = admin("registration", "list");
        assertThat(list.out()).contains("SPIFFE ID", ID, "2h", "app.cli.internal");
        assertThat(admin("registration", "delete", "--spiffe-id", ID).exit()).isZero();
        assertThat(admin("registration", "list").out()).doesNotContain(ID);
        Run again = admin("registration", "delete", "--spiffe-id", ID);
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("error: NOT_FOUND: " + ID + " is not registered");
    }

    @Test
    void registrationsForANodeAgentNameTheParentAndSelectors() {
        assertThat(admin("registration", "create", "--spiffe-id", ID, "--parent", "x509pop:subject:cn:node-7",
                "--selector", "unix:uid:1000", "--selector", "unix:path:/usr/bin/app").exit()).isZero();
        assertThat(admin("registration", "list").out()).contains("PARENT", "x509pop:subject:cn:node-7",
                "unix:path:/usr/bin/app,unix:uid:1000");
        Run bad = admin("registration", "create", "--spiffe-id", ID + "2", "--parent", "x509pop:subject:cn:node-7",
                "--selector", "unix:uid:root");
        assertThat(bad.exit()).isEqualTo(1);
        assertThat(bad.err()).contains("INVALID_ARGUMENT", "unix:uid:root", "not a number");
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
                .contains(first.leaf().getSerialNumber().toString(16), second.leaf().getSerialNumber().toString(16));
    }

    @Test
    void bootstrapTrustingABundleFileWithAnotherKeyType() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        Path bundle = dir.resolve("data/admin/bundle.pem");
        Run issue = run("cert", "issue", "--server", server, "--bundle", bundle.toString(), "--key-type", "ed25519",
                "--join-token-file", tokenFile(), "--out", dir.resolve("ed").toString());
        assertThat(issue.exit()).as(issue.err()).isZero();
        assertThat(new CredentialDirectory(dir.resolve("ed")).read(CryptoProviders.bouncyCastleOnly()).leaf()
                .getPublicKey().getAlgorithm()).isIn("Ed25519", "EdDSA");
    }

    @Test
    void aWrongPinStopsBeforeTheTokenIsSent() throws Exception {
        admin("registration", "create", "--spiffe-id", ID);
        String token = tokenFile();
        Run refused = run("cert", "issue", "--server", server, "--root-fingerprint", "sha256:" + "00".repeat(32),
                "--join-token-file", token, "--out", dir.resolve("x").toString());
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("no root in the server's trust bundle matches the pinned fingerprint");
        assertThat(Files.exists(dir.resolve("x"))).isFalse();
        // The token was never sent, so it still works.
        assertThat(run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", token, "--out", dir.resolve("y").toString()).exit()).isZero();
        Run reused = run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", token, "--out", dir.resolve("z").toString());
        assertThat(reused.exit()).isEqualTo(1);
        assertThat(reused.err()).contains("error: UNAUTHENTICATED: join token was already used")
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
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).contains("no admin credential in");

        admin("registration", "create", "--spiffe-id", ID);
        Path creds = dir.resolve("workload");
        run("cert", "issue", "--server", server, "--root-fingerprint", lanyard.server().rootFingerprint(),
                "--join-token-file", tokenFile(), "--out", creds.toString());
        Run notAdmin = run("registration", "list", "--server", server, "--admin", creds.toString());
        assertThat(notAdmin.err()).contains("PERMISSION_DENIED: " + ID + " is not an admin");
    }

    @Test
    void benchIssueMeasuresRenewals() {
        Run bench = admin("bench", "issue", "--concurrency", "2", "--duration", "2s", "--warmup", "1s", "--csrs", "8",
                "--metrics", "http://localhost:" + lanyard.server().httpPort() + "/metrics");
        assertThat(bench.exit()).as(bench.err()).isZero();
        assertThat(bench.out()).containsPattern("[1-9][0-9,]* certificates in 2s = [0-9,]+ certificates/s")
                .contains("p50", "p99", "after 1s warm-up")
                .containsPattern("server CPU [0-9.]+ ms per certificate; server resident memory [0-9,]+ MB")
                .containsPattern("store on disk [0-9,]+ → [0-9,]+ bytes \\(-?[0-9,]+ bytes per certificate\\)")
                .containsPattern("load generator CPU [0-9.]+ ms per certificate");
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

        assertThat(admin("keys", "list").out()).contains("jwt", "x509", "ACTIVE");
        assertThat(admin("keys", "rotate", "--jwt").out()).contains("PREPARED");
        assertThat(admin("keys", "rotate", "--x509").out()).contains("PREPARED");
        assertThat(run("keys", "rotate", "--jwt", "--x509", "--server", server).exit()).isEqualTo(2);

        // The dev server's per-identity rate limit (50/s, burst 100) is what a bench runs into first.
        Run bench = run("bench", "token", "--server", server, "--data", dir.resolve("data").toString(), "--in",
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
        assertThat(revoked.out()).contains("revoked " + ID + " (keyCompromise), sequence 1", "with its certificates: ");
        assertThat(admin("revoke", "--spiffe-id", ID).out()).contains("already revoked: " + ID);
        assertThat(admin("revoke", "--jti", "abc", "--reason", "nonsense").exit()).isEqualTo(2);
        Run unknownSerial = admin("revoke", "--serial", "abcdef");
        assertThat(unknownSerial.exit()).isEqualTo(1);
        assertThat(unknownSerial.err()).contains("NOT_FOUND");

        Run list = admin("revocations", "list");
        assertThat(list.out()).contains("SEQ", "spiffe_id", ID, "keyCompromise", "laptop stolen", "serial");
        Run renew = run("cert", "renew", "--server", server, "--in", creds.toString());
        assertThat(renew.exit()).isEqualTo(1);
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
        assertThat(intact.out()).containsPattern("audit trail intact: \\d+ records; head #\\d+ [0-9a-f]{64}");
        String head = intact.out().replaceAll("(?s).*head #(\\d+) ([0-9a-f]{64}).*", "$1:$2").trim();
        assertThat(admin("audit", "verify", "--anchor", head).exit()).isZero();
        Run rewritten = admin("audit", "verify", "--anchor", head.substring(0, head.indexOf(':') + 1) + "ab".repeat(32));
        assertThat(rewritten.exit()).isEqualTo(1);
        assertThat(rewritten.err()).contains("no longer has the anchored hash");
        Run tail = admin("audit", "tail", "-n", "50");
        assertThat(tail.out()).contains("SUCCESS", "registration.create " + ID, "join-token.create");

        try (var db = dev.lanyard.store.Database.h2File(dir.resolve("data"));
                var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            s.executeUpdate("update audit_events set actor = 'spiffe://lanyard.local/someone-else'"
                    + " where action = 'registration.create'");
        }
        long edited = idOf("registration.create");
        Run broken = admin("audit", "verify");
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.err()).contains("record " + edited + " was edited");

        try (var db = dev.lanyard.store.Database.h2File(dir.resolve("data"));
                var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            s.executeUpdate("delete from audit_events where id <= " + edited);
        }
        Run deleted = admin("audit", "verify");
        assertThat(deleted.exit()).isEqualTo(1);
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

        Run both = admin("audit", "verify", "--archive", file.toString());
        assertThat(both.exit()).as(both.err()).isZero();
        assertThat(both.out()).containsPattern("audit trail intact: \\d+ records");
        Run liveOnly = admin("audit", "verify");
        assertThat(liveOnly.exit()).isEqualTo(1);
        assertThat(liveOnly.err()).contains("records 1 to " + upTo + " were deleted", "pass --archive FILE");
        assertThat(admin("audit", "tail", "-n", "5", "--action", "audit.archive").out())
                .contains("records 1 to " + upTo + " moved to the file");

        Files.writeString(file, Files.readString(file).replace("registration.create", "registration.delete"));
        Run tampered = admin("audit", "verify", "--archive", file.toString());
        assertThat(tampered.exit()).isEqualTo(1);
        assertThat(tampered.err()).contains("record " + upTo + " was edited", "in the archive " + file);
    }

    private long idOf(String action) {
        String line = admin("audit", "tail", "-n", "200", "--action", action).out().lines().findFirst().orElseThrow();
        return Long.parseLong(line.substring(0, line.indexOf(' ')));
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertThat(run("cert", "issue", "--out", "x").exit()).isEqualTo(2);
    }

    private String tokenFile() throws Exception {
        Path file = Files.createTempFile(dir, "token", "");
        Files.writeString(file, admin("join-token", "create", "--spiffe-id", ID).out());
        return file.toString();
    }

    private Run admin(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--server", server, "--data", dir.resolve("data").toString()));
        return run(all.toArray(String[]::new));
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Lanyard.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }
}
