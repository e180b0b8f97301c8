package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.crypto.Pem;
import dev.lanyard.server.ReloadingKeyManager;
import dev.lanyard.testing.PastedSecrets;
import dev.lanyard.testing.RunningServer;
import dev.lanyard.testing.TestCa;
import io.grpc.Grpc;
import io.grpc.Server;
import io.grpc.TlsServerCredentials;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every failure says what was tried, what went wrong in words and what to do, with the documented
 * exit status: run in-process against a real dev server, a closed port, its HTTP port, a TLS server
 * that is not Lanyard, and files that are not there.
 */
class CliErrorsTest {

    private static final String ID = "spiffe://lanyard.local/ns/errors/sa/app";

    @TempDir
    static Path dir;
    static RunningServer lanyard;
    static String data;
    static List<String> pastedSecrets;

    @BeforeAll
    static void start() throws Exception {
        lanyard = RunningServer.start(dir.resolve("data"));
        data = dir.resolve("data").toString();
        lanyard.register(ID, "app.errors.internal");
    }

    @AfterAll
    static void stop() {
        lanyard.close();
    }

    @Test
    void anyLoopbackSpellingReachesTheDevServer() throws Exception {
        for (String host : List.of("localhost", "127.0.0.1")) {
            CliRun list = CliRun.run("registration", "list", "--data", data, "--server",
                    host + ":" + lanyard.server().grpcPort());
            assertThat(list.exit()).as(list.err()).isZero();
            assertThat(list.out()).contains(ID);
        }
        assertThat(lanyard.server().serverCertificate().getSubjectAlternativeNames())
                .contains(List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1"), List.of(2, "localhost"));
    }

    @Test
    void aClosedPortIsNamedAsRefused() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0)) {
            closed = socket.getLocalPort();
        }
        CliRun run = CliRun.run("registration", "list", "--data", data, "--server", "127.0.0.1:" + closed);
        assertThat(run.exit()).isEqualTo(ExitCodes.CONNECTION);
        assertThat(run.err()).startsWith("error: 127.0.0.1:" + closed
                + ": connection refused: nothing is listening on that port")
                .contains("hint: start the server (`./lanyard dev`), or pass --server HOST:PORT with the server's gRPC"
                        + " port");
    }

    @Test
    void theHttpPortIsNamedAsNotTls() {
        String http = "127.0.0.1:" + lanyard.server().httpPort();
        CliRun run = CliRun.run("registration", "list", "--data", data, "--server", http);
        assertThat(run.exit()).isEqualTo(ExitCodes.CONNECTION);
        // A server that answers the TLS hello with HTTP at once, or one that waits for a request line (then probed)
        assertThat(run.err()).startsWith("error: " + http + ": TLS: the server did not answer in TLS")
                .contains("HTTP port", "hint: pass --server HOST:PORT with the server's gRPC port");
    }

    @Test
    void aServerSignedByAnotherRootIsNamedAsSuch() throws Exception {
        Path otherRoot = dir.resolve("other-root.pem");
        Files.writeString(otherRoot, Pem.certificates(List.of(
                TestCa.create("lanyard.local", Clock.systemUTC()).root().certificate())));
        String server = "localhost:" + lanyard.server().grpcPort();
        CliRun run = CliRun.run("cert", "issue", "--server", server, "--bundle", otherRoot.toString(),
                "--join-token-file", tokenFile(), "--out", dir.resolve("never").toString());
        assertThat(run.exit()).isEqualTo(ExitCodes.CONNECTION);
        assertThat(run.err()).startsWith("error: " + server + ": TLS: the server's certificate is not signed by the"
                + " roots in " + otherRoot + " (it was issued by ").contains("hint: is --server the Lanyard server");
        assertThat(dir.resolve("never")).doesNotExist();
    }

    @Test
    void aTlsServerThatIsNotLanyardIsNamedAsSuch() throws Exception {
        // A workload's certificate chains to the same root, but names the workload, not the Lanyard server.
        Credential workload = lanyard.bootstrap(ID);
        Server impostor = Grpc.newServerBuilderForPort(0, TlsServerCredentials.newBuilder()
                .keyManager(new ReloadingKeyManager(workload)).build()).build().start();
        try {
            String server = "localhost:" + impostor.getPort();
            CliRun run = CliRun.run("registration", "list", "--data", data, "--server", server);
            assertThat(run.exit()).isEqualTo(ExitCodes.CONNECTION);
            assertThat(run.err()).startsWith("error: " + server + ": TLS: the server's certificate names " + ID
                    + ", not spiffe://lanyard.local/lanyard/server: this is not the Lanyard server")
                    .contains("hint: this address reaches another TLS service");
        } finally {
            impostor.shutdownNow();
        }
    }

    @Test
    void aMissingCredentialDirectoryNamesTheOptionAndHowToMakeOne() {
        String server = "localhost:" + lanyard.server().grpcPort();
        CliRun run = CliRun.run("token", "issue", "--server", server, "--in", dir.resolve("shop-creds").toString(),
                "--audience", "payments", "--scope", "payments.charge");
        assertThat(run.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err()).startsWith("error: --in " + dir.resolve("shop-creds") + ": no such directory")
                .contains("hint: it must be a credential directory (cert.pem, key.pem, bundle.pem); create one with"
                        + " `lanyard cert issue --out DIR`");

        CliRun admin = CliRun.run("registration", "list", "--server", server, "--data", dir.resolve("nothing").toString());
        assertThat(admin.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(admin.err()).startsWith("error: " + dir.resolve("nothing/admin") + ": no admin credential here")
                .contains("hint: pass --data DIR");
    }

    @Test
    void missingFilesAreNamed() {
        String server = "localhost:" + lanyard.server().grpcPort();
        CliRun policy = CliRun.run("policy", "apply", "missing.txtpb", "--server", server, "--data", data);
        assertThat(policy.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(policy.err()).startsWith("error: missing.txtpb: no such file")
                .contains("hint: pass a policy file in protobuf text (.txtpb) or JSON (.json)");

        CliRun contracts = CliRun.run("contracts", "publish", "nothing.pb", "--server", server, "--data", data);
        assertThat(contracts.err()).startsWith("error: nothing.pb: no such file").contains("protoc --descriptor_set_out");

        CliRun bundle = CliRun.run("cert", "issue", "--server", server, "--bundle", "nope.pem", "--join-token-file", tokenFile(),
                "--out", dir.resolve("never").toString());
        assertThat(bundle.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(bundle.err()).startsWith("error: nope.pem: no such file");

        CliRun token = CliRun.run("cert", "issue", "--server", server, "--bundle", data + "/admin/bundle.pem",
                "--join-token-file", "no-token", "--out", dir.resolve("never").toString());
        assertThat(token.err()).startsWith("error: --join-token-file no-token: no such file")
                .contains("lanyard join-token create");
    }

    @Test
    void aMisspelledPolicyFieldIsNamedWithItsLine() throws Exception {
        Path policy = dir.resolve("typo.txtpb");
        Files.writeString(policy, "version: 1\ngrants { spiffe_ids: \"" + ID + "\" audience: \"payments\""
                + " scope: \"payments.charge\" }\n");
        CliRun run = CliRun.run("policy", "apply", policy.toString(), "--server",
                "localhost:" + lanyard.server().grpcPort(), "--data", data);
        assertThat(run.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err()).startsWith("error: policy: policy file typo.txtpb is not a valid lanyard.v1.Policy in text"
                + " format: field grants.scope is unknown (did you mean scopes? Grant has spiffe_ids, audience, scopes)"
                + " at line 2, column");
    }

    @Test
    void aServerRefusalNamesTheServerAndTheStatus() {
        String server = "localhost:" + lanyard.server().grpcPort();
        CliRun run = CliRun.run("registration", "delete", "--spiffe-id", "spiffe://lanyard.local/ns/never",
                "--server", server, "--data", data);
        assertThat(run.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(run.err()).startsWith("error: " + server + ": refused: NOT_FOUND: spiffe://lanyard.local/ns/never"
                + " is not registered");
    }

    @Test
    void malformedValuesAreUsageErrors() {
        CliRun server = CliRun.run("registration", "list", "--data", data, "--server", "localhost");
        assertThat(server.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(server.err()).startsWith("error: --server (9 characters): this is not HOST:PORT");

        CliRun pin = CliRun.run("cert", "issue", "--root-fingerprint", "sha256:abc", "--join-token-file", tokenFile(),
                "--out", "x");
        assertThat(pin.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(pin.err()).startsWith("error: --root-fingerprint (10 characters): this is not a sha256 fingerprint");

        CliRun unknown = CliRun.run("cert", "isue");
        assertThat(unknown.exit()).isEqualTo(ExitCodes.USAGE);
        assertThat(unknown.err()).contains("error: Unmatched argument at index 1 (4 characters)", "Did you mean",
                "issue");
    }

    /** A token pasted into the wrong option is refused as a usage error that does not repeat it. */
    @Test
    void aSecretPastedIntoAnOptionIsNotRepeated() {
        String address = "localhost:" + lanyard.server().grpcPort();
        for (String secret : pastedSecrets()) {
            List<CliRun> runs = List.of(
                    CliRun.run("cert", "issue", "--root-fingerprint", secret, "--join-token-file", tokenFile(),
                            "--out", "x"),
                    CliRun.run("registration", "list", "--data", data, "--server", secret),
                    CliRun.run("revoke", "--serial", secret, "--data", data, "--server", address),
                    CliRun.run("revoke", "--jti", "abc", "--reason", secret, "--data", data, "--server", address),
                    CliRun.run("audit", "verify", "--anchor", secret, "--data", data, "--server", address),
                    CliRun.run("join-token", "create", "--spiffe-id", ID, "--ttl", secret, "--data", data,
                            "--server", address));
            for (CliRun run : runs) {
                assertThat(run.exit()).as(run.err()).isEqualTo(ExitCodes.USAGE);
                assertThat(run.err()).contains("(" + secret.length() + " characters)");
                PastedSecrets.assertNotRepeated(run.out() + run.err(), secret);
            }
        }
    }

    /**
     * A token pasted where picocli expects something else (a stray argument, an unknown option, a number,
     * a choice, an exclusive option given twice) or as --key-type is named by its position or option and
     * its length, never repeated.
     */
    @Test
    void aSecretPickedUpByTheParserIsNotRepeated() throws Exception {
        Path creds = dir.resolve("pasted-creds");
        Files.createDirectories(creds);
        for (String secret : pastedSecrets()) {
            int length = secret.length();
            List<List<String>> runs = List.of(
                    List.of("registration", "list", "--data", data, secret),
                    List.of("registration", "list", "--data", data, secret, "x"),
                    List.of(secret),
                    List.of("registration", "list", "--" + secret),
                    List.of("certs", "list", "--data", data, "--limit", secret),
                    List.of("certs", "list", "--data", data, "--limit=" + secret),
                    List.of("completion", secret),
                    List.of("revoke", "--jti=" + secret, "--jti=" + secret, "--data", data),
                    List.of("cert", "renew", "--in", creds.toString(), "--key-type", secret),
                    List.of("help", "cert", secret));
            List<String> expected = List.of(
                    "error: Unmatched argument at index 4 (" + length + " characters)",
                    "error: Unmatched arguments from index 4 (" + length + ", 1 characters)",
                    "error: Unmatched argument at index 0 (" + length + " characters)",
                    "error: Unknown option at index 2 (" + (length + 2) + " characters)",
                    "error: Invalid value for option '--limit': the value (" + length + " characters) is not an int",
                    "error: Invalid value for option '--limit': the value (" + length + " characters) is not an int",
                    "error: Invalid value for positional parameter at index 0 (SHELL): expected one of [bash, zsh]"
                            + " (case-sensitive) but was the value (" + length + " characters)",
                    "error: Error: expected only one match but got (",
                    "error: --key-type (" + length + " characters): not a key type this command line makes",
                    "error: unknown command at index 2 (" + length + " characters) in `lanyard cert`");
            for (int i = 0; i < runs.size(); i++) {
                CliRun run = CliRun.run(runs.get(i).toArray(String[]::new));
                assertThat(run.exit()).as(run.err()).isEqualTo(ExitCodes.USAGE);
                assertThat(run.err()).as("run %d", i).startsWith(expected.get(i));
                PastedSecrets.assertNotRepeated(run.out() + run.err(), secret);
            }
        }
    }

    /** The secrets of {@link PastedSecrets#of}, made once: they register their holder. */
    private static synchronized List<String> pastedSecrets() {
        if (pastedSecrets == null) {
            pastedSecrets = PastedSecrets.of(lanyard);
        }
        return pastedSecrets;
    }

    /** A token file (not --join-token, which adds a warning before the error these tests look at). */
    private static String tokenFile() {
        Path file = dir.resolve("token");
        try {
            Files.writeString(file, "x\n");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return file.toString();
    }

    /** A token given as an argument is in /proc/PID/cmdline for every user to read: the command says so, first. */
    @Test
    void aJoinTokenArgumentIsWarnedAbout() throws Exception {
        String missing = dir.resolve("missing.pem").toString();
        CliRun run = CliRun.run("cert", "issue", "--bundle", missing, "--join-token", "x", "--out",
                dir.resolve("never").toString());
        assertThat(run.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.err()).startsWith("warning: --join-token puts the token in the process list (/proc/PID/cmdline),"
                + " where other users of this machine can read it; set LANYARD_JOIN_TOKEN or use --join-token-file FILE"
                + " instead\nerror: " + missing + ": no such file\n");
        CliRun file = CliRun.run("cert", "issue", "--bundle", missing, "--join-token-file", tokenFile(), "--out",
                dir.resolve("never").toString());
        assertThat(file.err()).doesNotContain("warning");
    }
}
