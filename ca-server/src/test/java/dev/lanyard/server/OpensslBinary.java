package dev.lanyard.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** The openssl binary for tests, installed from Debian's packages if this machine lacks it. */
final class OpensslBinary {

    private OpensslBinary() {
    }

    static synchronized String path() throws IOException, InterruptedException {
        for (String candidate : new String[] {"/usr/bin/openssl", "/usr/local/bin/openssl"}) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        Process install = new ProcessBuilder("sh", "-c",
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl")
                .inheritIO().start();
        if (!install.waitFor(5, TimeUnit.MINUTES) || install.exitValue() != 0) {
            throw new IOException("openssl is missing and apt-get could not install it");
        }
        return "/usr/bin/openssl";
    }
}
