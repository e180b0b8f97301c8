package dev.lanyard.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lanyard.credential.Credential;
import dev.lanyard.store.Database;
import dev.lanyard.testing.RunningServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A data directory made while H2 was the default keeps its store when the server starts with today's default. */
class ExistingH2StoreTest {

    private static final String WORKLOAD = "spiffe://lanyard.local/ns/shop/sa/api";

    @TempDir
    Path dir;

    @Test
    void aServerStartedOnAnH2DirectoryKeepsItsCaAndStartsNoSecondStore() throws Exception {
        String root;
        Credential held;
        try (RunningServer old = RunningServer.start(dir, Map.of("database.embedded", "h2"))) {
            old.register(WORKLOAD);
            held = old.bootstrap(WORKLOAD);
            root = old.server().rootFingerprint();
        }
        assertThat(Files.exists(Database.h2Path(dir))).isTrue();

        try (RunningServer again = RunningServer.start(dir)) { // database.embedded unset
            assertThat(again.server().rootFingerprint()).isEqualTo(root);
            assertThat(again.renew(held).chain()).containsExactlyElementsOf(held.chain());
        }
        assertThat(Files.exists(Database.sqlitePath(dir))).as("no empty SQLite store beside the H2 one").isFalse();
    }
}
