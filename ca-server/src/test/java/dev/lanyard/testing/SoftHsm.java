package dev.lanyard.testing;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;

/**
 * A real SoftHSM2 token for PKCS#11 tests, initialised once per test JVM in a fresh directory.
 * SoftHSM2 reads SOFTHSM2_CONF when the JVM first loads it, so surefire sets the variable and this
 * class writes the file it names. No SoftHSM2 fails the test with what to install, unless the tests
 * are skipped on purpose with -Dlanyard.skipHsm=true.
 */
public final class SoftHsm {

    public static final Path MODULE = Path.of("/usr/lib/softhsm/libsofthsm2.so");
    public static final String PIN = "lanyard-user-pin";

    /** An initialised token: its slot id, for {@code pkcs11.slot}. */
    public record Token(long slot) {

        /** Server settings for PKCS#11 custody on this token; the PIN goes to a 0600 file in {@code dir}. */
        public Map<String, String> serverSettings(Path dir) throws IOException {
            Path pinFile = dir.resolve("hsm-pin");
            if (!Files.exists(pinFile)) {
                Files.createDirectories(dir);
                Files.writeString(pinFile, PIN + "\n");
                Files.setPosixFilePermissions(pinFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            }
            return Map.of("custody", "pkcs11", "pkcs11.module", MODULE.toString(), "pkcs11.slot", Long.toString(slot),
                    "pkcs11.pin-file", pinFile.toString());
        }
    }

    private static Token token;

    private SoftHsm() {
    }

    public static synchronized Token token() {
        if (Boolean.getBoolean("lanyard.skipHsm")) {
            Assumptions.abort("skipped on purpose with -Dlanyard.skipHsm=true: the PKCS#11 tests need SoftHSM2");
        }
        if (token != null) {
            return token;
        }
        String conf = System.getenv("SOFTHSM2_CONF");
        if (conf == null) {
            fail("SOFTHSM2_CONF is not set: run these tests through Maven (its surefire configuration sets it),"
                    + " or skip them with -Dlanyard.skipHsm=true");
        }
        if (!Files.isReadable(MODULE) || !onPath("softhsm2-util")) {
            fail("SoftHSM2 is not installed (no " + MODULE + " or softhsm2-util): install the Debian package softhsm2"
                    + " (apt-get install softhsm2; .ci/run does), or skip the PKCS#11 tests with -Dlanyard.skipHsm=true");
        }
        try {
            Path config = Path.of(conf);
            Path tokens = config.resolveSibling("tokens");
            if (Files.exists(tokens)) {
                try (var old = Files.walk(tokens)) {
                    old.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            Files.createDirectories(tokens);
            Files.writeString(config, "directories.tokendir = " + tokens + "\nobjectstore.backend = file\n"
                    + "log.level = ERROR\nslots.removable = false\n");
            ProcessBuilder init = new ProcessBuilder("softhsm2-util", "--init-token", "--free", "--label", "lanyard-test",
                    "--pin", PIN, "--so-pin", "lanyard-so-pin").redirectErrorStream(true);
            init.environment().put("SOFTHSM2_CONF", conf);
            Process process = init.start();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                fail("softhsm2-util --init-token failed: " + out);
            }
            Matcher slot = Pattern.compile("reassigned to slot (\\d+)").matcher(out);
            if (!slot.find()) {
                fail("softhsm2-util did not say which slot it initialised: " + out);
            }
            token = new Token(Long.parseLong(slot.group(1)));
            return token;
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare a SoftHSM2 token", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }
}
