package dev.lanyard.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.crypto.Pem;
import dev.lanyard.testing.OfflineRoot;
import dev.lanyard.testing.RunningServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `lanyard ca`: the offline-root rotation as an operator types it, against a real server whose root is offline. */
class CaCommandTest {

    @TempDir
    Path dir;
    OfflineRoot root;
    RunningServer lanyard;
    String server;

    @BeforeEach
    void start() throws Exception {
        root = OfflineRoot.create("lanyard.local", Clock.systemUTC());
        Map<String, String> settings = new HashMap<>(root.importSettings(dir));
        settings.put("admin.credential-ttl", "360d");
        lanyard = RunningServer.start(dir.resolve("data"), settings);
        server = "localhost:" + lanyard.server().grpcPort();
        Files.writeString(dir.resolve("root-key.pem"), Pem.privateKey(root.key()));
    }

    @AfterEach
    void stop() {
        lanyard.close();
    }

    @Test
    void prepareSignImportAndTheWarningBeforeIt() throws Exception {
        lanyard.clock().advance(Duration.ofDays(70));
        CliRun list = admin("keys", "list");
        assertThat(list.out()).contains("warning: issuing CA", "no successor is prepared", "lanyard ca prepare");

        CliRun prepared = admin("ca", "prepare", "--out", dir.resolve("next.csr").toString());
        assertThat(prepared.exit()).as(prepared.err()).isZero();
        assertThat(prepared.out()).contains("prepared intermediate key", "sign it with the offline root");
        assertThat(Files.readString(dir.resolve("next.csr"))).startsWith("-----BEGIN CERTIFICATE REQUEST-----");

        CliRun signed = CliRun.run("ca", "sign-intermediate", "--root-cert", dir.resolve("root.pem").toString(),
                "--root-key", dir.resolve("root-key.pem").toString(), "--csr", dir.resolve("next.csr").toString(),
                "--out", dir.resolve("next.pem").toString(), "--validity", "300d");
        assertThat(signed.exit()).as(signed.err()).isZero();
        assertThat(signed.out()).contains("signed intermediate", "lanyard ca import-intermediate");

        CliRun wrongFile = admin("ca", "import-intermediate", dir.resolve("next.csr").toString());
        assertThat(wrongFile.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(wrongFile.err()).contains("INVALID_ARGUMENT", "expected CERTIFICATE blocks, found CERTIFICATE REQUEST");

        CliRun imported = admin("ca", "import-intermediate", dir.resolve("next.pem").toString());
        assertThat(imported.exit()).as(imported.err()).isZero();
        assertThat(imported.out()).contains("ACTIVE", "PREPARED", "activates at").doesNotContain("warning:");
        assertThat(admin("keys", "list").out()).doesNotContain("warning:");
    }

    @Test
    void badLocalInputsNameTheFileAndWhatIsWrong() throws Exception {
        Files.writeString(dir.resolve("garbage.pem"), "not a key");
        CliRun badKey = CliRun.run("ca", "sign-intermediate", "--root-cert", dir.resolve("root.pem").toString(),
                "--root-key", dir.resolve("garbage.pem").toString(), "--csr", dir.resolve("root.pem").toString(),
                "--out", dir.resolve("x.pem").toString());
        assertThat(badKey.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(badKey.err()).contains("error: " + dir.resolve("garbage.pem"), "hint: check --root-key");
        CliRun badCsr = CliRun.run("ca", "sign-intermediate", "--root-cert", dir.resolve("root.pem").toString(),
                "--root-key", dir.resolve("root-key.pem").toString(), "--csr", dir.resolve("root.pem").toString(),
                "--out", dir.resolve("x.pem").toString());
        assertThat(badCsr.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(badCsr.err()).contains("no CERTIFICATE REQUEST block", "hint: check --csr");
        assertThat(Files.exists(dir.resolve("x.pem"))).isFalse();
        CliRun missing = admin("ca", "import-intermediate", dir.resolve("nope.pem").toString());
        assertThat(missing.exit()).isEqualTo(ExitCodes.FAILED);
        assertThat(missing.err()).contains("no such file");
        CliRun nothingPrepared = admin("ca", "import-intermediate", dir.resolve("root.pem").toString());
        assertThat(nothingPrepared.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(nothingPrepared.err()).contains("FAILED_PRECONDITION: no intermediate key is prepared");
        assertThat(admin("ca", "add-root").exit()).isEqualTo(ExitCodes.USAGE);
    }

    @Test
    void addRootPublishesAnOfflineRoot() throws Exception {
        OfflineRoot next = OfflineRoot.create("lanyard.local", Clock.systemUTC());
        Files.writeString(dir.resolve("new-root.pem"), next.certificatePem());
        CliRun added = admin("ca", "add-root", dir.resolve("new-root.pem").toString());
        assertThat(added.exit()).as(added.err()).isZero();
        assertThat(added.out()).contains("sha256:" + Pem.sha256Fingerprint(next.certificate()),
                "the bundle now holds 2 roots");
        CliRun generate = admin("ca", "add-root", "--generate");
        assertThat(generate.exit()).isEqualTo(ExitCodes.REFUSED);
        assertThat(generate.err()).contains("root keys are offline");
    }

    private CliRun admin(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--server", server, "--data", dir.resolve("data").toString()));
        return CliRun.run(all.toArray(String[]::new));
    }
}
